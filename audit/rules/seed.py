"""Seed-test outcomes: what real receivers did with a test message (audit seed)."""

from audit.model import Rule, Severity

SEED_MISSING = Rule(
    "SEED401",
    "seed-missing",
    Severity.HIGH,
    "The test message did not reach the seed mailbox (no folder) before the wait ended",
)
SEED_IN_SPAM = Rule(
    "SEED402", "seed-in-spam", Severity.HIGH, "The test message landed in the spam/junk folder"
)
SEED_RECEIVER_SPF = Rule(
    "SEED403",
    "receiver-spf-not-pass",
    Severity.HIGH,
    "The seed's receiver did not see SPF pass for the test message",
)
SEED_RECEIVER_DKIM = Rule(
    "SEED404",
    "receiver-dkim-not-pass",
    Severity.HIGH,
    "The seed's receiver saw no passing DKIM signature on the test message",
)
SEED_RECEIVER_DMARC = Rule(
    "SEED405",
    "receiver-dmarc-not-pass",
    Severity.HIGH,
    "The seed's receiver did not see DMARC pass for the test message",
)
SEED_CONTRADICTED = Rule(
    "SEED406",
    "prediction-contradicted",
    Severity.MEDIUM,
    "A receiver concluded otherwise than the audit predicted (or than another receiver)",
)
SEED_SEND_FAILED = Rule(
    "SEED407",
    "send-failed",
    Severity.HIGH,
    "The test message could not be handed to the sending path for a seed",
)
SEED_NOT_COLLECTED = Rule(
    "SEED001",
    "seed-mailbox-unreadable",
    Severity.MEDIUM,
    "The seed mailbox could not be read (login, TLS or IMAP error): placement is unknown",
    temperror=True,
)
SEED_SEND_UNCONFIRMED = Rule(
    "SEED002",
    "seed-send-unconfirmed",
    Severity.MEDIUM,
    "The send to a seed was cut off before the relay confirmed it and no copy arrived",
    temperror=True,
)
SEED_NO_RECEIVER_VERDICT = Rule(
    "SEED003",
    "seed-no-receiver-verdict",
    Severity.LOW,
    "The copy carries no Authentication-Results written by the seed's receiver",
    temperror=True,
)
