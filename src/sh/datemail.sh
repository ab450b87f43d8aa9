#!/bin/sh
# WARNING: This file was auto-generated. Do not edit!
exec QMAIL/bin/predate QMAIL/bin/sendmail ${1+"$@"}
