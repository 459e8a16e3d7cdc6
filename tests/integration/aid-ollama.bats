#!/usr/bin/env bats
# aid against an upstream speaking Ollama's native /api/chat NDJSON stream: the fake upstream
# (tests/fixtures/fakellm) behind provider 'ollama', through the gateway and
# on /internal/generate.  The cases are in aid-common.bash.

PROV=ollama
load aid-provider

@test "ollama: a streamed answer" { case_stream; }
@test "ollama: a whole answer" { case_whole; }
@test "ollama: the upstream's usage reaches the usage chunk" { case_usage; }
@test "ollama: bytes split anywhere, UTF-8 included" { case_split; }
@test "ollama: CRLF line ends" { case_crlf; }
@test "ollama: comments, keep-alives and multi-line data" { case_comments; }
@test "ollama: an error in the middle of the stream" { case_error_mid; }
@test "ollama: a stream cut without its end is truncated" { case_truncated; }
@test "ollama: a stall is upstream_timeout" { case_stall; }
@test "ollama: 429 and 503 are retried, Retry-After capped" { case_retry; }
@test "ollama: an unavailable model falls back; no fallback is 503" { case_fallback; }
@test "ollama: a 400 of the upstream is not retried" { case_upstream_4xx; }
@test "ollama: redirects are not followed" { case_redirect; }
@test "ollama: an endless answer is capped" { case_big; }
@test "ollama: a client leaving closes the upstream request" { case_stop; }
@test "ollama: base_url and keys in a request body are ignored" { case_body_url_ignored; }
@test "ollama: /internal/generate" { case_internal; }
@test "ollama: the prompt is trimmed to the context window" { case_trim; }
@test "ollama: the upstream key is nowhere in the data dir" { case_key_hidden; }
