"""The interop app's tables. The HL7 SIU feed's live in interop/siu/models.py, the FHIR server's in
interop/fhir/models.py (the app label is still `interop`); they are imported here so Django finds them."""

# The SIU feed's signal receivers are connected on import of this module (the app registry imports
# it once), not in InteropConfig.ready(), which the FHIR server's part of this app shares unchanged.
from interop.fhir.models import FindReason
from interop.siu import receivers as _siu_receivers  # noqa: F401  (connects the receivers)
from interop.siu.models import SiuEvent, SiuMessage, SiuReceiver, SiuStatus, new_control_id

__all__ = ["FindReason", "SiuEvent", "SiuMessage", "SiuReceiver", "SiuStatus", "new_control_id"]
