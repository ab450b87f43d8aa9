#!/bin/sh
# WARNING: This file was auto-generated. Do not edit!
exec UCSPI/tcpclient -RHl0 -- "${1-0}" "${2-25}" UCSPI/mconnect-io
