"""The chat relay: a separate deployable that stores and forwards sealed envelopes.

It shares only the wire protocol (:mod:`walletim.messaging.protocol`) and the identity checks
(:mod:`walletim.messaging.identity`, Ed25519 verification) with the client; it handles
ciphertext and public keys and never imports what holds keys or plaintext (checked by
import-linter). Its modules, from the entry point down:

- :mod:`.run`: :class:`~.run.RelayConfig`, :func:`~.run.start` and :func:`~.run.serve` (what
  ``walletim relay serve`` and :class:`walletim.app.relay.EmbeddedRelay` run);
- :mod:`.server`: :class:`~.server.RelayServer`, accepting connections and reading frames;
  :mod:`.requests`: what each request does; :mod:`.conn`: one connection's output, flow
  control and pushes; :mod:`.fanout`: who listens to which mailbox and directory;
  :mod:`.login`: the relay's key, challenges and logins; :mod:`.frames`: hot-path frames;
- :mod:`.limits`: the tunables and quota buckets;
- :mod:`.store`: the :class:`~.store.MailboxStore` contract every store implements;
  :mod:`.sqlite_store` (the default, one process; :mod:`.sqlite_schema`, :mod:`.sqlite_writer`)
  and :mod:`.redis_store` (many nodes on one Redis; :mod:`.redis_keys`, :mod:`.redis_scripts`,
  :mod:`.redis_pipeline`, :mod:`.redis_follow`), which needs the ``redis`` extra
  (``pip install 'walletim[redis]'``): nothing else here imports redis.
"""
