# bash completion for bulkhead's Qubes-shaped tools (issue #4):
# qvm-create, qvm-remove, qvm-clone, qvm-ls, qvm-prefs, qubes-prefs,
# qvm-features, qvm-tags, qvm-service, qvm-start, qvm-shutdown, qvm-kill,
# qvm-pause, qvm-unpause, qvm-check, qvm-run, qvm-template, qvm-volume,
# qvm-console and qubesd-query.
#
# Qube, property, feature, service and tag names come from the daemon
# through the tools themselves (qvm-ls --raw-data, qvm-prefs VMNAME, ...),
# so they follow $BULKHEAD_ADMIN_SOCKET; with no daemon there is simply
# nothing to offer.  Installed once and linked under each tool's name.

# Qube names, optionally only those whose state is one of the arguments
# (Running, Halted, Paused, ...) or, with "class:C", of class C.
_bulkhead_qubes()
{
    local line name state klass want
    if [[ $# -eq 0 ]]; then
        qvm-ls --raw-data --fields NAME 2>/dev/null
        return
    fi
    qvm-ls --raw-data --fields NAME,STATE,CLASS 2>/dev/null |
        while IFS='|' read -r name state klass; do
            for want in "$@"; do
                if [[ $want == "$state" || $want == "class:$klass" ]]; then
                    printf '%s\n' "$name"
                    break
                fi
            done
        done
}

_bulkhead_labels()
{
    printf '%s\n' red orange yellow green gray blue purple black
}

_bulkhead_classes()
{
    printf '%s\n' AppVM TemplateVM StandaloneVM DispVM
}

# The first column of a tool's listing (properties, features, services).
_bulkhead_first_column()
{
    "$@" 2>/dev/null | while read -r name _; do
        [[ -n $name ]] && printf '%s\n' "$name"
    done
}

# The property names of "qvm-prefs VMNAME" or "qubes-prefs" (lines
# "NAME  D|-  VALUE" or "NAME  U"; a value's further lines are skipped).
_bulkhead_properties()
{
    "$@" 2>/dev/null | awk '$2 ~ /^[-DU]$/ { print $1 }'
}

# Properties whose values are qube names, and those that are labels.
_bulkhead_vm_property()
{
    case $1 in
        netvm | template | default_dispvm | management_dispvm | guivm | \
            audiovm | default_netvm | default_template | updatevm | \
            clockvm | default_guivm | default_audiovm)
            return 0 ;;
    esac
    return 1
}

# Set COMPREPLY from a list of words and the current word.
_bulkhead_reply()
{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$2" | sort -u)
}

# The non-option words before the current one, in pos[] (global: the
# caller declares "local -a pos").  $1: the options that take a value.
_bulkhead_positionals()
{
    local i word takes=" $1 " skip=0
    pos=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if ((skip)); then
            skip=0
            continue
        fi
        case $word in
            --*=*) ;;
            --) ;;
            -*)
                [[ $takes == *" $word "* ]] && skip=1 ;;
            *)
                pos+=("$word") ;;
        esac
    done
}

_bulkhead_common_opts="--verbose -v --quiet -q --help -h --version"

_bulkhead_qvm_ls()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local opts="--format -o --fields -O --tree -t --raw-data --raw-list
        --disk -d --network -n --kernel -k --help-formats --help-columns
        --class --label --tags --exclude-tags --running --paused --halted
        --template-source --netvm-is --internal --servicevm --pending-update
        --features --prefs --sort --reverse --ignore-case --spinner
        --no-spinner --all --exclude $_bulkhead_common_opts"
    local cols="name state class label template netvm ip ipback gateway
        memory disk priv-curr priv-max priv-pool priv-used root-curr
        root-max root-pool root-used flags qid xid uuid kernel kernelopts
        vcpus maxmem virt_mode default_user"
    case $prev in
        --format | -o)
            _bulkhead_reply "simple network kernel full prefs disk json" "$cur"
            return ;;
        --fields | -O | --sort)
            local prefix=""
            [[ $cur == *,* ]] && prefix=${cur%,*},
            COMPREPLY=($(compgen -P "$prefix" -W "$cols" -- "${cur##*,}"))
            return ;;
        --class)
            _bulkhead_reply "$(_bulkhead_classes) AdminVM" "$cur"
            return ;;
        --label)
            _bulkhead_reply "$(_bulkhead_labels)" "$cur"
            return ;;
        --internal | --servicevm)
            _bulkhead_reply "y n yes no" "$cur"
            return ;;
        --exclude | --netvm-is | --template-source)
            _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
            return ;;
        --tags | --exclude-tags | --features | --prefs)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        _bulkhead_reply "$opts" "$cur"
    else
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    fi
}

_bulkhead_prefs()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prog=${COMP_WORDS[0]##*/}
    local opts="--help-properties --hide-default --get -g --set -s
        --default -D $_bulkhead_common_opts"
    local -a pos
    local vm=() prop
    _bulkhead_positionals ""
    if [[ $cur == -* ]]; then
        _bulkhead_reply "$opts" "$cur"
        return
    fi
    if [[ $prog == qvm-prefs ]]; then
        if ((${#pos[@]} == 0)); then
            _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
            return
        fi
        vm=("${pos[0]}")
        pos=("${pos[@]:1}")
    fi
    case ${#pos[@]} in
        0)
            _bulkhead_reply "$(_bulkhead_properties "$prog" "${vm[@]}")" \
                "$cur" ;;
        1)
            prop=${pos[0]//-/_}
            if _bulkhead_vm_property "$prop"; then
                _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
            elif [[ $prop == label ]]; then
                _bulkhead_reply "$(_bulkhead_labels)" "$cur"
            elif [[ $(LC_ALL=C "$prog" "${vm[@]}" 2>/dev/null |
                awk -v p="$prop" '$1 == p { print $3 }') == @(True|False) ]]
            then
                _bulkhead_reply "True False" "$cur"
            fi ;;
    esac
}

_bulkhead_qvm_features()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local -a pos
    _bulkhead_positionals ""
    if [[ $cur == -* ]]; then
        _bulkhead_reply "--unset --default --delete -D $_bulkhead_common_opts" \
            "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    elif ((${#pos[@]} == 1)); then
        _bulkhead_reply "$(_bulkhead_first_column qvm-features "${pos[0]}")
            gui gui-emulated qrexec internal servicevm os vmexec
            video-model memory-hotplug audio-model uefi" "$cur"
    fi
}

_bulkhead_qvm_service()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local -a pos
    _bulkhead_positionals ""
    if [[ $cur == -* ]]; then
        _bulkhead_reply "--list -l --enable -e --disable -d --unset --default
            --delete -D $_bulkhead_common_opts" "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    elif ((${#pos[@]} == 1)); then
        _bulkhead_reply "$(_bulkhead_first_column qvm-service "${pos[0]}")
            meminfo-writer qubes-firewall qubes-network qubes-update-check
            cups crond network-manager clocksync qubes-updates-proxy
            updates-proxy-setup disable-default-route disable-dns-server
            servicevm" "$cur"
    elif ((${#pos[@]} == 2)); then
        _bulkhead_reply "on off" "$cur"
    fi
}

_bulkhead_qvm_tags()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local -a pos
    _bulkhead_positionals ""
    if [[ $cur == -* ]]; then
        _bulkhead_reply "$_bulkhead_common_opts" "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    elif ((${#pos[@]} == 1)); then
        _bulkhead_reply "list add del" "$cur"
    else
        case ${pos[1]} in
            del | d | unset | u | list | ls | l)
                _bulkhead_reply "$(qvm-tags "${pos[0]}" 2>/dev/null)" "$cur" ;;
        esac
    fi
}

# The tools that take qubes in some states: qvm-start and friends.
_bulkhead_qvm_power()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local prog=${COMP_WORDS[0]##*/} opts states=()
    case $prog in
        qvm-start)
            opts="--skip-if-running"
            states=(Halted) ;;
        qvm-shutdown)
            opts="--wait --timeout --force --dry-run"
            states=(Running Transient Paused Suspended Halting) ;;
        qvm-kill)
            states=(Running Transient Paused Suspended Halting Dying
                Crashed) ;;
        qvm-pause)
            opts="--suspend -S"
            states=(Running Transient) ;;
        qvm-unpause)
            states=(Paused Suspended) ;;
        qvm-check)
            opts="--running --paused --template --networked" ;;
        qvm-remove)
            opts="--force -f"
            states=(Halted) ;;
    esac
    case $prev in
        --exclude)
            _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
            return ;;
        --timeout)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        _bulkhead_reply "$opts --all --exclude $_bulkhead_common_opts" "$cur"
    else
        _bulkhead_reply "$(_bulkhead_qubes "${states[@]}")" "$cur"
    fi
}

_bulkhead_qvm_create()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local opts="--class -C --standalone --disp --property --prop --pool -p
        -P --template -t --label -l --help-classes --root-copy-from -r
        --root-move-from -R $_bulkhead_common_opts"
    case $prev in
        --class | -C)
            _bulkhead_reply "$(_bulkhead_classes)" "$cur"
            return ;;
        --label | -l)
            _bulkhead_reply "$(_bulkhead_labels)" "$cur"
            return ;;
        --template | -t)
            _bulkhead_reply "$(_bulkhead_qubes class:TemplateVM class:AppVM)" \
                "$cur"
            return ;;
        --prop | --property)
            _bulkhead_reply "memory= maxmem= vcpus= netvm= virt_mode=
                kernel= kernelopts= provides_network= template_for_dispvms=
                default_dispvm= autostart= debug=" "$cur"
            compopt -o nospace 2>/dev/null
            return ;;
        --root-copy-from | -r | --root-move-from | -R)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --pool | -p | -P)
            return ;;
    esac
    [[ $cur == -* ]] && _bulkhead_reply "$opts" "$cur"
}

_bulkhead_qvm_clone()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local -a pos
    case $prev in
        --class | -C)
            _bulkhead_reply "$(_bulkhead_classes)" "$cur"
            return ;;
        --pool | -p | -P)
            return ;;
    esac
    _bulkhead_positionals "--class -C --pool -p -P"
    if [[ $cur == -* ]]; then
        _bulkhead_reply "--class -C --ignore-errors -P --pool -p
            $_bulkhead_common_opts" "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    fi
}

_bulkhead_qvm_run()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local opts="--user -u --autostart --auto -a --no-autostart --no-auto -n
        --pass-io -p --localcmd --gui --no-gui --nogui --colour-output
        --color-output --colour-stderr --color-stderr --no-colour-output
        --no-color-output --no-colour-stderr --no-color-stderr
        --filter-escape-chars --no-filter-escape-chars --service --no-shell
        --dispvm --all --exclude $_bulkhead_common_opts"
    local -a pos
    local w
    case $prev in
        --exclude)
            _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
            return ;;
        --user | -u)
            _bulkhead_reply "root user" "$cur"
            return ;;
        --localcmd | --colour-output | --color-output | --colour-stderr | \
            --color-stderr)
            return ;;
    esac
    if [[ $cur == --dispvm=* ]]; then
        COMPREPLY=($(compgen -P --dispvm= -W "$(_bulkhead_qubes class:AppVM)" \
            -- "${cur#--dispvm=}"))
        return
    fi
    _bulkhead_positionals "--user -u --localcmd --colour-output
        --color-output --colour-stderr --color-stderr --exclude"
    for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        # no VMNAME with --all or --dispvm: the first word is the command
        [[ $w == --all || $w == --dispvm* ]] && pos=(x "${pos[@]}")
    done
    if [[ $cur == -* ]] && ((${#pos[@]} < 2)); then
        _bulkhead_reply "$opts" "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    else
        # the command and its arguments: files, commands
        compopt -o bashdefault -o default 2>/dev/null
        COMPREPLY=()
    fi
}

_bulkhead_qubesd_query()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local -a pos
    local methods="admin.vmclass.List admin.vm.List admin.property.List
        admin.property.Get admin.property.GetAll admin.property.GetDefault
        admin.property.Help admin.property.Set admin.property.Reset
        admin.Events admin.vm.Create.AppVM admin.vm.Create.TemplateVM
        admin.vm.Create.StandaloneVM admin.vm.Create.DispVM
        admin.vm.CreateInPool.AppVM admin.vm.CreateDisposable admin.vm.Remove
        admin.vm.Start admin.vm.Shutdown admin.vm.Pause admin.vm.Unpause
        admin.vm.Suspend admin.vm.Resume admin.vm.Kill admin.vm.CurrentState
        admin.vm.Stats admin.vm.property.List admin.vm.property.Get
        admin.vm.property.GetAll admin.vm.property.GetDefault
        admin.vm.property.Help admin.vm.property.Set admin.vm.property.Reset
        admin.vm.feature.List admin.vm.feature.Get admin.vm.feature.Set
        admin.vm.feature.Remove admin.vm.feature.CheckWithTemplate
        admin.vm.tag.List admin.vm.tag.Get admin.vm.tag.Set
        admin.vm.tag.Remove admin.vm.firewall.Get admin.vm.firewall.Set
        admin.vm.volume.List admin.vm.volume.Info admin.vm.volume.CloneFrom
        admin.vm.volume.CloneTo admin.label.List admin.label.Get
        admin.label.Index admin.label.Create admin.label.Remove"
    case $prev in
        --connect | -c)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --connect-timeout | --max-bytes)
            return ;;
    esac
    _bulkhead_positionals "--connect -c --connect-timeout --max-bytes"
    if [[ $cur == -* ]]; then
        _bulkhead_reply "--connect -c --connect-timeout --empty -e --fail
            --max-bytes --single-line --null --help -h --version" "$cur"
        return
    fi
    case ${#pos[@]} in
        0 | 2) _bulkhead_reply "$(_bulkhead_qubes)" "$cur" ;;
        1) _bulkhead_reply "$methods" "$cur" ;;
    esac
}

_bulkhead_qvm_template()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local -a pos
    local cmd
    case $prev in
        --label)
            _bulkhead_reply "$(_bulkhead_labels)" "$cur"
            return ;;
        --keyring)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --mirror | --suite | --include)
            return ;;
    esac
    _bulkhead_positionals "--label --mirror --suite --keyring --include"
    cmd=${pos[0]:-}
    if [[ $cur == -* ]]; then
        case $cmd in
            list)
                _bulkhead_reply "--installed --available --all
                    --machine-readable --machine-readable-json
                    $_bulkhead_common_opts" "$cur" ;;
            install)
                _bulkhead_reply "--label --mirror --suite --keyring --include
                    $_bulkhead_common_opts" "$cur" ;;
            *)
                _bulkhead_reply "--yes $_bulkhead_common_opts" "$cur" ;;
        esac
        return
    fi
    case $cmd in
        "")
            _bulkhead_reply "list install remove" "$cur" ;;
        install | list)
            # what can be installed needs no daemon
            _bulkhead_reply "$(qvm-template list --available \
                --machine-readable 2>/dev/null | cut -d '|' -f 2)" "$cur" ;;
        remove)
            _bulkhead_reply "$(_bulkhead_qubes class:TemplateVM)" "$cur" ;;
    esac
}

_bulkhead_qvm_volume()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local -a pos
    local vm v
    _bulkhead_positionals "-p --pool"
    if [[ $cur == -* ]]; then
        _bulkhead_reply "$_bulkhead_common_opts" "$cur"
    elif ((${#pos[@]} == 0)); then
        _bulkhead_reply "list ls info revert" "$cur"
    elif [[ ${pos[0]} == list || ${pos[0]} == ls ]]; then
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    elif ((${#pos[@]} == 1)); then
        # VMNAME:VOLUME
        _bulkhead_reply "$(for vm in $(_bulkhead_qubes); do
            for v in private root volatile; do printf '%s:%s\n' "$vm" "$v"
            done; done)" "$cur"
    fi
}

_bulkhead_qvm_console()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [[ $cur == -* ]]; then
        _bulkhead_reply "--follow -f --lines -n $_bulkhead_common_opts" "$cur"
    else
        _bulkhead_reply "$(_bulkhead_qubes)" "$cur"
    fi
}

complete -F _bulkhead_qvm_ls qvm-ls
complete -F _bulkhead_prefs qvm-prefs qubes-prefs
complete -F _bulkhead_qvm_features qvm-features
complete -F _bulkhead_qvm_service qvm-service
complete -F _bulkhead_qvm_tags qvm-tags
complete -F _bulkhead_qvm_power qvm-start qvm-shutdown qvm-kill qvm-pause \
    qvm-unpause qvm-check qvm-remove
complete -F _bulkhead_qvm_create qvm-create
complete -F _bulkhead_qvm_clone qvm-clone
complete -F _bulkhead_qvm_run qvm-run
complete -F _bulkhead_qvm_template qvm-template
complete -F _bulkhead_qubesd_query qubesd-query
complete -F _bulkhead_qvm_volume qvm-volume
complete -F _bulkhead_qvm_console qvm-console

# ex: filetype=sh
