QMAILBIN/maildir2mbox && exec pine ${1+"$@"}
