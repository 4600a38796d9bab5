# Suites that assert how long an answer, an error or a close may take (fault and abuse scenarios,
# socket-level timeouts). scripts/test-all.sh and .ci/run run them in a phase of their own after
# the rest, so that ninety other suites sharing the cores in parallel do not eat into their bounds
# (at 467 tests, a full parallel run on 2 cores made a 3.5 s bound and a trickle scenario's
# steady client miss). A regex for `swift test --filter/--skip`.
TIMED_SUITES='NetworkFaultTests|AbuseTests|TwoHostTests|SocketOptionTests|StoreServerTests|GatewayTimeoutTests'
