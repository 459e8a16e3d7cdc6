#!/usr/bin/env bats
# aid against an upstream speaking the OpenAI chat completions format (any OpenAI-compatible server): the fake upstream
# (tests/fixtures/fakellm) behind provider 'openai', through the gateway and
# on /internal/generate.  The cases are in aid-common.bash.

PROV=openai
load aid-provider

@test "openai: models listed by the upstreams are offered" { case_models; }
@test "openai: a streamed answer" { case_stream; }
@test "openai: a whole answer" { case_whole; }
@test "openai: the upstream's usage reaches the usage chunk" { case_usage; }
@test "openai: bytes split anywhere, UTF-8 included" { case_split; }
@test "openai: CRLF line ends" { case_crlf; }
@test "openai: comments, keep-alives and multi-line data" { case_comments; }
@test "openai: an error in the middle of the stream" { case_error_mid; }
@test "openai: a stream cut without its end is truncated" { case_truncated; }
@test "openai: a stall is upstream_timeout" { case_stall; }
@test "openai: 429 and 503 are retried, Retry-After capped" { case_retry; }
@test "openai: an unavailable model falls back; no fallback is 503" { case_fallback; }
@test "openai: a 400 of the upstream is not retried" { case_upstream_4xx; }
@test "openai: redirects are not followed" { case_redirect; }
@test "openai: an endless answer is capped" { case_big; }
@test "openai: a client leaving closes the upstream request" { case_stop; }
@test "openai: base_url and keys in a request body are ignored" { case_body_url_ignored; }
@test "openai: /internal/generate" { case_internal; }
@test "openai: the prompt is trimmed to the context window" { case_trim; }
@test "openai: the upstream key is nowhere in the data dir" { case_key_hidden; }
