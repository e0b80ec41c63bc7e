"""Facts more than one kind of audit needs: gathered or computed once, judged by the checks."""
