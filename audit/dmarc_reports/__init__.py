"""DMARC aggregate and TLS-RPT report analysis: who sends as the domain, what fails, and whether
a stricter policy is safe. Parsing is parsedmarc's; reading (bounded), judging and the tie-back
to the rest of the audit are ours."""
