from registry.audit.service import record

__all__ = ["record"]
