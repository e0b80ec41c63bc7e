"""`audit seed`: send a tokened test message to seed mailboxes, read the copies back, confirm."""
