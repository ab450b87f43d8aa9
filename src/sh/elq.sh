QMAILBIN/maildir2mbox && exec elm ${1+"$@"}
