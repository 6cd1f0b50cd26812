#!/usr/bin/env python3
"""placeholder"""
print("1..0 # SKIP not written yet")
