/*
 * vm.h - constants shared by the VM backend's programs: the launcher
 * (bulkhead-vm), bulkheadd's backend_vm.c and the guest's bulkhead-init.
 */
#ifndef BULKHEAD_VM_VM_H
#define BULKHEAD_VM_VM_H

/* The virtio-serial port that carries a VM qube's qrexec channels. */
#define VM_QREXEC_PORT "org.bulkhead.qrexec"

/* The highest qid a qube may have (as bulkhead-sandbox's bound). */
#define VM_MAX_QID 10000u

#endif
