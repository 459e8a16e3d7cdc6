#!/usr/bin/env bats
# aid against an upstream speaking Anthropic's Messages API stream: the fake upstream
# (tests/fixtures/fakellm) behind provider 'anthropic', through the gateway and
# on /internal/generate.  The cases are in aid-common.bash.

PROV=anthropic
load aid-provider

@test "anthropic: a streamed answer" { case_stream; }
@test "anthropic: a whole answer" { case_whole; }
@test "anthropic: the upstream's usage reaches the usage chunk" { case_usage; }
@test "anthropic: bytes split anywhere, UTF-8 included" { case_split; }
@test "anthropic: CRLF line ends" { case_crlf; }
@test "anthropic: comments, keep-alives and multi-line data" { case_comments; }
@test "anthropic: an error in the middle of the stream" { case_error_mid; }
@test "anthropic: a stream cut without its end is truncated" { case_truncated; }
@test "anthropic: a stall is upstream_timeout" { case_stall; }
@test "anthropic: 429 and 503 are retried, Retry-After capped" { case_retry; }
@test "anthropic: an unavailable model falls back; no fallback is 503" { case_fallback; }
@test "anthropic: a 400 of the upstream is not retried" { case_upstream_4xx; }
@test "anthropic: redirects are not followed" { case_redirect; }
@test "anthropic: an endless answer is capped" { case_big; }
@test "anthropic: a client leaving closes the upstream request" { case_stop; }
@test "anthropic: base_url and keys in a request body are ignored" { case_body_url_ignored; }
@test "anthropic: /internal/generate" { case_internal; }
@test "anthropic: the prompt is trimmed to the context window" { case_trim; }
@test "anthropic: the upstream key is nowhere in the data dir" { case_key_hidden; }
