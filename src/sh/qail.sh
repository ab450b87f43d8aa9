QMAILBIN/maildir2mbox && exec Mail ${1+"$@"}
