"""The key agent: unlock a home once, then sign from other commands without the password
(``walletim agent start|status|lock|stop|policy``), as ssh-agent does for SSH keys.

The agent is a process of its own holding the home's master key; commands of that home find
it by its socket (``HOME/agent/agent.sock``, 0600 in a 0700 directory, peers checked by
``SO_PEERCRED``) and ask it to sign: transactions (EIP-155/1559), messages (EIP-191), typed
data (EIP-712, with the chain rules of ``sign typed-data``) and chat-identity bindings. The
seed and the spending keys never leave it. It hands a client of the same user the store's key
and chat identity keys (they read and decrypt history; they do not spend). Each account may
have a policy (chains, caps per transaction and per day in ETH and per token, contracts and
functions), sealed in its wallet file; a request outside it is refused with the reason.

Modules: :mod:`.protocol` (frames and requests, pure), :mod:`.policy` (the policy and its
checks, pure), :mod:`.signed_data` (what typed data and messages let be spent under it,
pure), :mod:`.client` (finding and talking to an agent), :mod:`.service` (the agent's
state and answers), :mod:`.server` (the socket loop), :mod:`.daemon` (the process).
:mod:`walletim.app.wallets` uses the agent through :mod:`.client`; only
:mod:`walletim.app.agent` (``agent start --foreground``) and the process run the server.
"""
