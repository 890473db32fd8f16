"""Interoperability: the FHIR R4 scheduling server (interop.fhir) and the HL7 v2 SIU feed (interop.siu)."""
