"""ESP set-up rules for a provider in use (a declared or detected sending path)."""

from audit.model import Rule, Severity

ESP_DKIM_NOT_CONFIGURED = Rule(
    "ESP101",
    "esp-dkim-not-configured",
    Severity.MEDIUM,
    "A provider in use has no working DKIM key under the domain",
)
ESP_DEFAULT_RETURN_PATH = Rule(
    "ESP102",
    "esp-default-return-path",
    Severity.LOW,
    "A provider in use sends with its default envelope domain: SPF cannot align",
)
