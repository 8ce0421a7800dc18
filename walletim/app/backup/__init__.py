"""Encrypted chat backups (issue 17): the archive format (:mod:`.archive`) and the service
that writes one to a file or the relay and restores it (:mod:`.service`)."""

from walletim.app.backup.service import BackupResult, BackupService, RestoreResult

__all__ = ["BackupResult", "BackupService", "RestoreResult"]
