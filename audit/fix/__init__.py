"""`audit fix DOMAIN`: the domain audit's findings turned into the records to publish.

A FixPlan holds record changes (owner name, type, the whole RRset before and after, which
rule ids it clears) and policy files (MTA-STS). Every proposed value is parsed back by the
project's own parsers (SPF, DMARC, MTA-STS record and policy, TLS-RPT, BIMI) before it is
returned; a value that does not parse is a bug and is dropped with a warning, never printed.

Staged, not drastic: DMARC moves one step (none -> quarantine -> reject; a partial pct goes
up), MTA-STS starts in testing mode, SPF gets `~all`. What cannot be known from DNS (who sends
for a domain with no SPF at all) is a warning, not a guess, unless the domain is declared
non-sending (`parked`): then null MX, `v=spf1 -all` and DMARC p=reject.
"""
