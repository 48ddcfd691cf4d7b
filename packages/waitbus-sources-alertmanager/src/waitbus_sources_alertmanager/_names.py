"""Names shared by the modules (kept import-free so that loading SOURCE stays cheap)."""

SOURCE_NAME = "alertmanager"
ALERT_EVENT = "prometheus_alert"
WATCHDOG_EVENT = "prometheus_watchdog"
TOKEN_SECRET = "alertmanager-token"  # noqa: S105 - the name of a secret in secrets.json, not a secret
HMAC_SECRET = "alertmanager-hmac"  # noqa: S105 - likewise
SIGNATURE_HEADER = "x-waitbus-signature-256"
