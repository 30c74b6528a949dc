"""End-to-end checks of the gateway with the official Python SDKs (openai, anthropic).

Run by sdk-tests/run.sh; by hand: SIGNALBOX_URL=http://127.0.0.1:4000 python test_sdks.py
Optional: SDK_MODELS="chat-gpt" limits the checks to some aliases (default: chat-claude chat-gpt);
CLAUDE_MOCK_URL (the Anthropic mock's base URL) enables the lossless Anthropic→Anthropic checks;
GPT_MOCK_URL (the OpenAI mock's) the continuation and Responses passthrough (`responses-gpt`) checks.

What the mock upstreams answer (crates/signalbox-mock/src/answer.rs):
- text "[<mock name>] echo: <last user message text>" (finish "stop" / stop_reason "end_turn");
- when tools are offered and the last user text has the word "weather": one call of the first
  tool, arguments {"location":"Paris"} (finish "tool_calls" / stop_reason "tool_use").
A tool result is not a user text, so the question stays the last user text: the follow-up after
a tool result offers no tools (else the mock would call the tool again) and is answered with the
echo of the question.

Prints one line per passing check; exits 1 at the first failure.
"""

import json
import os
import sys
import traceback
import urllib.request

import anthropic
import openai

BASE = os.environ.get("SIGNALBOX_URL", "").rstrip("/")
# The Anthropic mock upstream, whose /_mock/stats shows the last body and headers it received.
CLAUDE_MOCK = os.environ.get("CLAUDE_MOCK_URL", "").rstrip("/")
# The OpenAI mock upstream, whose /_mock/faults breaks its streams off for the continuation checks.
GPT_MOCK = os.environ.get("GPT_MOCK_URL", "").rstrip("/")
API_KEY = "sk-test"
# alias -> the provider name the gateway reports in `x-signalbox-provider`
PROVIDERS = {"chat-claude": "claude", "chat-gpt": "gpt", "responses-gpt": "gpt"}
# The alias whose route declares `endpoint: [chat, responses]`: Responses requests pass through.
PASSTHROUGH = "responses-gpt"
MODELS = os.environ.get("SDK_MODELS", "chat-claude chat-gpt").split()

QUESTION = "What is the weather in Paris?"
WEATHER_RESULT = json.dumps({"city": "Paris", "temperature_c": 18, "conditions": "sunny"})
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ANTHROPIC_TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def check(name, fn):
    """Runs one check; prints PASS, or the failure and exits 1."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any failure ends the run with its message
        print(f"FAIL python {name}", file=sys.stderr)
        print(f"  {type(e).__name__}: {e}", file=sys.stderr)
        if isinstance(e, (openai.APIStatusError, anthropic.APIStatusError)):
            rid = e.response.headers.get("x-request-id")
            print(f"  HTTP {e.status_code}, x-request-id {rid}", file=sys.stderr)
        elif not isinstance(e, AssertionError):
            traceback.print_exc(file=sys.stderr)
        sys.exit(1)
    print(f"PASS python {name}")


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def expect_provider(headers, model):
    got = headers.get("x-signalbox-provider")
    want = PROVIDERS[model]
    expect(got == want, f"x-signalbox-provider is {got!r}, expected {want!r}")


def expect_echo(text, user_text):
    expect(
        isinstance(text, str) and f"echo: {user_text}" in text,
        f"answer {text!r} does not echo {user_text!r}",
    )


# ---------------------------------------------------------------- openai SDK (chat completions)


def openai_chat(client, model):
    user_text = f"Hello from the Python openai SDK, {model}, non-streaming"
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": user_text}]
    )
    expect_provider(raw.headers, model)
    completion = raw.parse()
    expect(len(completion.choices) == 1, f"{len(completion.choices)} choices")
    choice = completion.choices[0]
    expect(choice.message.role == "assistant", f"role {choice.message.role!r}")
    expect_echo(choice.message.content, user_text)
    expect(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r}")
    expect(not choice.message.tool_calls, f"unexpected tool calls {choice.message.tool_calls}")


def openai_stream(client, model):
    user_text = f"Hello from the Python openai SDK, {model}, streaming"
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": user_text}], stream=True
    )
    expect_provider(raw.headers, model)
    text, finish, chunks = "", None, 0
    with raw.parse() as stream:
        for chunk in stream:
            chunks += 1
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
    expect(chunks >= 2, f"only {chunks} chunks")
    expect_echo(text, user_text)
    expect(finish == "stop", f"finish_reason {finish!r}")


def openai_tools(client, model):
    messages = [{"role": "user", "content": QUESTION}]
    completion = client.chat.completions.create(model=model, messages=messages, tools=OPENAI_TOOLS)
    choice = completion.choices[0]
    expect(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
    calls = choice.message.tool_calls or []
    expect(len(calls) == 1, f"expected one tool call, got {calls!r}")
    call = calls[0]
    expect(call.type == "function", f"tool call type {call.type!r}")
    expect(call.function.name == "get_weather", f"tool call name {call.function.name!r}")
    args = json.loads(call.function.arguments)
    expect(isinstance(args, dict), f"arguments {call.function.arguments!r} are not an object")
    expect(bool(call.id), "tool call without id")

    messages.append(
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call.id, "content": WEATHER_RESULT})
    completion = client.chat.completions.create(model=model, messages=messages)
    choice = completion.choices[0]
    expect(choice.finish_reason == "stop", f"follow-up finish_reason {choice.finish_reason!r}")
    expect(not choice.message.tool_calls, f"follow-up tool calls {choice.message.tool_calls}")
    expect_echo(choice.message.content, QUESTION)


def openai_stream_tools(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": QUESTION}],
        tools=OPENAI_TOOLS,
        stream=True,
    )
    calls, finish = {}, None  # index -> {"id", "name", "arguments"}
    with stream:
        for chunk in stream:
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                for delta in choice.delta.tool_calls or []:
                    call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                    call["id"] += delta.id or ""
                    if delta.function:
                        call["name"] += delta.function.name or ""
                        call["arguments"] += delta.function.arguments or ""
    expect(finish == "tool_calls", f"finish_reason {finish!r}")
    expect(len(calls) == 1, f"expected one streamed tool call, got {calls!r}")
    call = next(iter(calls.values()))
    expect(call["name"] == "get_weather", f"streamed tool call name {call['name']!r}")
    expect(bool(call["id"]), "streamed tool call without id")
    args = json.loads(call["arguments"])
    expect(isinstance(args, dict), f"streamed arguments {call['arguments']!r} are not an object")


# ---------------------------------------------------------------- openai SDK (responses)

RESPONSES_TOOLS = [
    {
        "type": "function",
        "name": t["function"]["name"],
        "description": t["function"].get("description"),
        "parameters": t["function"]["parameters"],
    }
    for t in OPENAI_TOOLS
]


def openai_responses(client, model):
    user_text = f"Hello from the Python openai SDK, {model}, responses"
    raw = client.responses.with_raw_response.create(
        model=model, instructions="Answer briefly.", input=user_text
    )
    expect_provider(raw.headers, model)
    response = raw.parse()
    expect(response.status == "completed", f"status {response.status!r}")
    expect_echo(response.output_text, user_text)
    expect(response.usage and response.usage.output_tokens > 0, f"usage {response.usage!r}")


def openai_responses_stream(client, model):
    user_text = f"Hello from the Python openai SDK, {model}, responses streaming"
    deltas, kinds = "", []
    with client.responses.stream(model=model, input=user_text) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas += event.delta
        final = stream.get_final_response()
    expect(kinds[0] == "response.created", f"first event {kinds[:1]}")
    expect(kinds[-1] == "response.completed", f"last event {kinds[-1:]}")
    expect_echo(deltas, user_text)
    expect(final.output_text == deltas, f"final {final.output_text!r} != deltas {deltas!r}")
    expect(final.usage and final.usage.output_tokens > 0, f"usage {final.usage!r}")


def openai_responses_tools(client, model):
    response = client.responses.create(model=model, input=QUESTION, tools=RESPONSES_TOOLS)
    calls = [item for item in response.output if item.type == "function_call"]
    expect(len(calls) == 1, f"expected one function call, got {response.output!r}")
    call = calls[0]
    expect(call.name == "get_weather", f"function call name {call.name!r}")
    expect(isinstance(json.loads(call.arguments), dict), f"arguments {call.arguments!r}")
    follow_up = [
        {"role": "user", "content": QUESTION},
        *[item.model_dump(exclude_none=True) for item in response.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": WEATHER_RESULT},
    ]
    # Without tools, as the chat round trip does: the mock answers a tool
    # result with an echo then.
    response = client.responses.create(model=model, input=follow_up)
    expect(
        not [i for i in response.output if i.type == "function_call"],
        f"follow-up called again: {response.output!r}",
    )
    expect_echo(response.output_text, QUESTION)


def gpt_mock_stats():
    with urllib.request.urlopen(f"{GPT_MOCK}/_mock/stats", timeout=10) as resp:
        return json.load(resp)


def expect_passed_through(sent):
    """The OpenAI mock got the SDK's Responses body as written (model aside), not a chat body."""
    received = gpt_mock_stats()["last_request"]
    expect("messages" not in received, f"a chat body reached the upstream: {received}")
    expect(
        received == {**sent, "model": received["model"], "store": False},
        f"upstream got {json.dumps(received, sort_keys=True)}\n  SDK sent {json.dumps(sent, sort_keys=True)}",
    )


def openai_responses_passthrough(client):
    user_text = "Hello from the Python openai SDK, responses passed through"
    raw = client.responses.with_raw_response.create(
        model=PASSTHROUGH,
        instructions="Answer briefly.",
        input=user_text,
        reasoning={"effort": "low"},
        include=["reasoning.encrypted_content"],
    )
    expect_provider(raw.headers, PASSTHROUGH)
    expect_passed_through(json.loads(raw.http_request.content))
    response = raw.parse()
    # The provider's own Response object (the mock names it resp_mock-<n>).
    expect(response.id.startswith("resp_mock-"), f"id {response.id!r}")
    expect(response.status == "completed", f"status {response.status!r}")
    expect_echo(response.output_text, user_text)
    expect(response.usage and response.usage.output_tokens > 0, f"usage {response.usage!r}")


def openai_responses_passthrough_stream(client):
    user_text = "Hello from the Python openai SDK, responses streamed through"
    deltas, kinds = "", []
    with client.responses.stream(model=PASSTHROUGH, input=user_text) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                deltas += event.delta
        final = stream.get_final_response()
    expect_passed_through({"model": PASSTHROUGH, "input": user_text, "stream": True})
    expect(kinds[0] == "response.created" and kinds[-1] == "response.completed", f"events {kinds}")
    expect_echo(deltas, user_text)
    expect(final.id.startswith("resp_mock-"), f"id {final.id!r}")
    expect(final.output_text == deltas, f"final {final.output_text!r} != deltas {deltas!r}")


def openai_responses_passthrough_failover(client):
    """The passthrough route fails; Claude serves the same request, translated."""
    user_text = "Hello from the Python openai SDK, responses failing over"
    set_gpt_faults({"error_rate": 1.0, "error_status": 503})
    try:
        raw = client.responses.with_raw_response.create(model=PASSTHROUGH, input=user_text)
    finally:
        set_gpt_faults({})
    expect(raw.headers.get("x-signalbox-provider") == "claude", f"headers {dict(raw.headers)}")
    expect(raw.headers.get("x-signalbox-degraded") == "fallback-route", f"headers {dict(raw.headers)}")
    response = raw.parse()
    expect(not response.id.startswith("resp_mock-"), f"id {response.id!r}")
    expect_echo(response.output_text, user_text)


def openai_completions(client, model):
    prompt = f"Hello from the Python openai SDK, {model}, legacy completions"
    completion = client.completions.create(model=model, prompt=prompt, max_tokens=64)
    expect(completion.object == "text_completion", f"object {completion.object!r}")
    expect_echo(completion.choices[0].text, prompt)
    text = "".join(
        c.choices[0].text
        for c in client.completions.create(model=model, prompt=prompt, stream=True)
        if c.choices
    )
    expect_echo(text, prompt)


def openai_embeddings(client):
    # The SDK asks for base64 unless told otherwise and decodes it itself.
    raw = client.embeddings.with_raw_response.create(model="embed", input=["first text", "second"])
    expect(
        raw.headers.get("x-signalbox-route") == "text-embedding-3-small",
        f"route {raw.headers.get('x-signalbox-route')!r}",
    )
    got = raw.parse()
    expect(len(got.data) == 2, f"{len(got.data)} vectors")
    expect([d.index for d in got.data] == [0, 1], f"indexes {[d.index for d in got.data]}")
    expect(len(got.data[0].embedding) == 1536, f"{len(got.data[0].embedding)} dimensions")
    norm = sum(x * x for x in got.data[0].embedding) ** 0.5
    expect(abs(norm - 1.0) < 1e-3, f"norm {norm}")
    floats = client.embeddings.create(model="embed", input="first text", encoding_format="float")
    expect(
        all(abs(a - b) < 1e-6 for a, b in zip(floats.data[0].embedding, got.data[0].embedding)),
        "float and base64 answers differ",
    )
    expect(got.usage.prompt_tokens > 0, f"usage {got.usage}")
    try:
        client.embeddings.create(model="chat-gpt", input="x")
    except openai.BadRequestError as e:
        expect("endpoint" in str(e), f"refusal {e}")
    else:
        raise AssertionError("an embeddings request to a chat alias was served")


def openai_responses_refuses_stored_state(client, model):
    try:
        client.responses.create(model=model, input="hi", previous_response_id="resp_x")
    except openai.BadRequestError as e:
        expect(e.param == "previous_response_id", f"param {e.param!r}")
        return
    raise AssertionError("previous_response_id was accepted")


# ---------------------------------------------------------------- anthropic SDK (messages)


def text_of(message):
    return "".join(b.text for b in message.content if b.type == "text")


def anthropic_create(client, model):
    user_text = f"Hello from the Python anthropic SDK, {model}, non-streaming"
    raw = client.messages.with_raw_response.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": user_text}]
    )
    expect_provider(raw.headers, model)
    message = raw.parse()
    expect(message.type == "message", f"type {message.type!r}")
    expect(message.role == "assistant", f"role {message.role!r}")
    expect(
        [b.type for b in message.content] == ["text"],
        f"content block types {[b.type for b in message.content]}",
    )
    expect_echo(message.content[0].text, user_text)
    expect(message.stop_reason == "end_turn", f"stop_reason {message.stop_reason!r}")
    expect(message.usage.output_tokens > 0, f"usage {message.usage}")


def anthropic_stream(client, model):
    user_text = f"Hello from the Python anthropic SDK, {model}, streaming"
    with client.messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": user_text}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    expect_echo(text, user_text)
    expect(final.stop_reason == "end_turn", f"final stop_reason {final.stop_reason!r}")
    expect(text_of(final) == text, f"final text {text_of(final)!r} != streamed text {text!r}")


def anthropic_tools(client, model):
    messages = [{"role": "user", "content": QUESTION}]
    message = client.messages.create(
        model=model, max_tokens=256, messages=messages, tools=ANTHROPIC_TOOLS
    )
    expect(message.stop_reason == "tool_use", f"stop_reason {message.stop_reason!r}")
    uses = [b for b in message.content if b.type == "tool_use"]
    expect(len(uses) == 1, f"expected one tool_use block, got {message.content!r}")
    use = uses[0]
    expect(use.name == "get_weather", f"tool_use name {use.name!r}")
    expect(isinstance(use.input, dict), f"tool_use input {use.input!r} is not an object")
    expect(bool(use.id), "tool_use without id")

    messages.append({"role": "assistant", "content": message.content})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": WEATHER_RESULT}],
        }
    )
    message = client.messages.create(model=model, max_tokens=256, messages=messages)
    expect(message.stop_reason == "end_turn", f"follow-up stop_reason {message.stop_reason!r}")
    expect(
        all(b.type == "text" for b in message.content),
        f"follow-up content {message.content!r}",
    )
    expect_echo(text_of(message), QUESTION)


def anthropic_stream_tools(client, model):
    partial = ""
    with client.messages.stream(
        model=model,
        max_tokens=256,
        messages=[{"role": "user", "content": QUESTION}],
        tools=ANTHROPIC_TOOLS,
    ) as stream:
        for event in stream:
            if event.type == "input_json":
                partial += event.partial_json
        final = stream.get_final_message()
    expect(final.stop_reason == "tool_use", f"final stop_reason {final.stop_reason!r}")
    uses = [b for b in final.content if b.type == "tool_use"]
    expect(len(uses) == 1, f"expected one tool_use block, got {final.content!r}")
    expect(uses[0].name == "get_weather", f"tool_use name {uses[0].name!r}")
    args = json.loads(partial)
    expect(isinstance(args, dict), f"streamed input {partial!r} is not an object")
    expect(uses[0].input == args, f"final input {uses[0].input!r} != streamed {args!r}")


# Everything an Anthropic client may send that the OpenAI shape cannot say.
LOSSLESS_BETA = "prompt-caching-2024-07-31,output-128k-2025-02-19"


def lossless_kwargs(user_text):
    return dict(
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        output_config={"effort": "medium"},
        metadata={"user_id": "sdk-user"},
        system=[
            {
                "type": "text",
                "text": "You summarise documents.",
                "cache_control": {"type": "ephemeral"},
            }
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "title": "notes",
                        "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
                        "cache_control": {"type": "ephemeral"},
                    },
                    {"type": "text", "text": user_text},
                ],
            }
        ],
        extra_headers={"anthropic-beta": LOSSLESS_BETA},
        # This SDK version has no `top_k` argument any more; the API still takes it.
        extra_body={"top_k": 7, "x_future_field": {"kept": [1, 2, 3]}},
    )


def mock_stats():
    with urllib.request.urlopen(f"{CLAUDE_MOCK}/_mock/stats", timeout=10) as resp:
        return json.load(resp)


def expect_reached_as_sent(sent, model):
    stats = mock_stats()
    received = stats["last_request"]
    expect(received["model"] != model, f"the alias {model!r} reached the upstream")
    expect(
        received == {**sent, "model": received["model"]},
        f"upstream got {json.dumps(received, sort_keys=True)}\n  SDK sent {json.dumps(sent, sort_keys=True)}",
    )
    beta = stats["last_headers"].get("anthropic-beta")
    expect(beta == LOSSLESS_BETA, f"anthropic-beta upstream {beta!r}")


def anthropic_lossless(client, model):
    raw = client.messages.with_raw_response.create(
        model=model, **lossless_kwargs("Summarise the document, non-streaming")
    )
    expect_provider(raw.headers, model)
    sent = json.loads(raw.http_request.content)
    for field in ("document", "cache_control", "top_k", "thinking", "output_config"):
        expect(field in json.dumps(sent), f"the SDK did not send {field}: {sent}")
    expect_reached_as_sent(sent, model)
    message = raw.parse()
    types = [b.type for b in message.content]
    expect(types == ["thinking", "text"], f"content block types {types}")
    expect(message.content[0].signature == "mock-signature", f"thinking {message.content[0]!r}")


def anthropic_lossless_stream(client, model):
    kwargs = lossless_kwargs("Summarise the document, streaming")
    with client.messages.stream(model=model, **kwargs) as stream:
        thinking = "".join(e.thinking for e in stream if e.type == "thinking")
        final = stream.get_final_message()
        sent = json.loads(stream.response.request.content)
    expect_reached_as_sent(sent, model)
    expect(thinking == "mock reasoning", f"streamed thinking {thinking!r}")
    types = [b.type for b in final.content]
    expect(types == ["thinking", "text"], f"final content block types {types}")
    expect(final.content[0].signature == "mock-signature", f"final thinking {final.content[0]!r}")


def anthropic_count_tokens(client, model):
    short = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "hi"}])
    long = client.messages.count_tokens(
        model=model, messages=[{"role": "user", "content": "many words " * 200}]
    )
    expect(0 < short.input_tokens < long.input_tokens, f"{short.input_tokens} vs {long.input_tokens}")


# ------------------------------------------- on-stream-break: continue (alias chat-continued)


def set_gpt_faults(faults):
    req = urllib.request.Request(
        f"{GPT_MOCK}/_mock/faults",
        data=json.dumps(faults).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        expect(resp.status == 200, f"setting mock faults: HTTP {resp.status}")


def openai_stream_continued(client):
    """The gpt upstream breaks its stream off; claude finishes it from the text delivered."""
    user_text = "Hello from the Python openai SDK, a stream to continue"
    set_gpt_faults({"cut_stream_after": 3})
    try:
        stream = client.chat.completions.create(
            model="chat-continued", messages=[{"role": "user", "content": user_text}], stream=True
        )
        text, finish, marks = "", None, []
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
            mark = (chunk.model_extra or {}).get("signalbox")
            if mark:
                marks.append(mark)
    finally:
        set_gpt_faults({})
    expect(text == f"[gpt-mock] echo: {user_text}", f"continued text {text!r}")
    expect(finish == "stop", f"finish_reason {finish!r}")
    routes = [(m["continued"]["from"], m["continued"]["to"]) for m in marks]
    expect(routes == [("gpt-4o-mini", "claude-sonnet")] * 2, f"marks {marks}")


def anthropic_stream_continued(client):
    user_text = "Hello from the Python anthropic SDK, a stream to continue"
    set_gpt_faults({"cut_stream_after": 3})
    try:
        with client.messages.stream(
            model="chat-continued",
            max_tokens=256,
            messages=[{"role": "user", "content": user_text}],
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    finally:
        set_gpt_faults({})
    expect(text == f"[gpt-mock] echo: {user_text}", f"continued text {text!r}")
    expect(final.stop_reason == "end_turn", f"final stop_reason {final.stop_reason!r}")
    expect(text_of(final) == text, f"final text {text_of(final)!r} != streamed text {text!r}")


# Structured output: what LangChain's `with_structured_output` and the SDKs' `parse` helpers
# send. The mocks answer it with the canned object: the Anthropic mock through the forced tool
# (chat-claude, translated) or natively (`output_config.format`), the OpenAI mock's Responses API
# natively (responses-gpt, passed through). The gateway checks every answer against the schema.
PLACE = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
    "additionalProperties": False,
}
PARIS = {"location": "Paris"}


def openai_structured_chat(client, model):
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Where is the Eiffel Tower?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": PLACE, "strict": True}},
    )
    said = json.loads(completion.choices[0].message.content)
    expect(said == PARIS, f"structured answer {said!r}")
    expect(completion.choices[0].finish_reason == "stop", f"finish {completion.choices[0].finish_reason!r}")


def openai_structured_responses(client, model):
    text = {"format": {"type": "json_schema", "name": "place", "schema": PLACE, "strict": True}}
    response = client.responses.create(model=model, input="Where is the Eiffel Tower?", text=text)
    expect(json.loads(response.output_text) == PARIS, f"structured answer {response.output_text!r}")
    with client.responses.stream(model=model, input="Where is the Eiffel Tower?", text=text) as stream:
        final = stream.get_final_response()
    expect(json.loads(final.output_text) == PARIS, f"streamed structured answer {final.output_text!r}")


def anthropic_structured(client, model):
    fmt = {"output_config": {"format": {"type": "json_schema", "schema": PLACE}}}
    message = client.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": "Where is the Eiffel Tower?"}],
        extra_body=fmt,
    )
    expect(json.loads(text_of(message)) == PARIS, f"structured answer {text_of(message)!r}")


def openai_models_retrieve(client, model):
    got = client.models.retrieve(model)
    expect(got.id == model and got.object == "model", f"model {got!r}")
    try:
        client.models.retrieve("no-such-model")
    except openai.NotFoundError as e:
        body = e.body if isinstance(e.body, dict) else {}
        code = body.get("code") or (body.get("error") or {}).get("code")
        expect(code == "model_not_found", f"404 body {e.body!r}")
    else:
        raise AssertionError("an unknown model was retrieved")


def main():
    if not BASE:
        sys.exit("SIGNALBOX_URL is not set (e.g. http://127.0.0.1:4000)")
    unknown = [m for m in MODELS if m not in PROVIDERS]
    if unknown:
        sys.exit(f"unknown model(s) in SDK_MODELS: {unknown}")
    oa = openai.OpenAI(api_key=API_KEY, base_url=f"{BASE}/v1", max_retries=0, timeout=30)
    an = anthropic.Anthropic(api_key=API_KEY, base_url=BASE, max_retries=0, timeout=30)
    print(f"python: openai {openai.__version__}, anthropic {anthropic.__version__}, gateway {BASE}")
    for model in MODELS:
        check(f"openai {model}: non-streaming chat", lambda: openai_chat(oa, model))
        check(f"openai {model}: streaming chat", lambda: openai_stream(oa, model))
        check(f"openai {model}: tool call round trip", lambda: openai_tools(oa, model))
        check(f"openai {model}: streaming tool call", lambda: openai_stream_tools(oa, model))
        check(f"openai {model}: responses.create", lambda: openai_responses(oa, model))
        check(f"openai {model}: responses.stream", lambda: openai_responses_stream(oa, model))
        check(f"openai {model}: responses function call", lambda: openai_responses_tools(oa, model))
        check(f"openai {model}: legacy completions", lambda: openai_completions(oa, model))
        check(
            f"openai {model}: responses refuse previous_response_id",
            lambda: openai_responses_refuses_stored_state(oa, model),
        )
    check("openai: embeddings.create (base64 and float, chat alias refused)", lambda: openai_embeddings(oa))
    for model in MODELS:
        check(f"openai {model}: models.retrieve (and a 404 for an unknown one)", lambda: openai_models_retrieve(oa, model))
    if "chat-claude" in MODELS and CLAUDE_MOCK:
        check(
            "openai chat-claude: response_format json_schema (forced tool, checked)",
            lambda: openai_structured_chat(oa, "chat-claude"),
        )
        check(
            "openai chat-claude: responses text.format json_schema (create + stream)",
            lambda: openai_structured_responses(oa, "chat-claude"),
        )
        check(
            "anthropic chat-claude: output_config.format json_schema (passed through, checked)",
            lambda: anthropic_structured(an, "chat-claude"),
        )
    if GPT_MOCK:
        check(
            f"openai {PASSTHROUGH}: responses text.format json_schema passed through, checked",
            lambda: openai_structured_responses(oa, PASSTHROUGH),
        )
    if GPT_MOCK:
        check(
            f"openai {PASSTHROUGH}: responses.create passed through as written",
            lambda: openai_responses_passthrough(oa),
        )
        check(
            f"openai {PASSTHROUGH}: responses.stream passed through event by event",
            lambda: openai_responses_passthrough_stream(oa),
        )
        check(
            f"openai {PASSTHROUGH}: a failing passthrough route fails over to a translated one",
            lambda: openai_responses_passthrough_failover(oa),
        )
    for model in MODELS:
        check(f"anthropic {model}: messages.create", lambda: anthropic_create(an, model))
        check(f"anthropic {model}: messages.stream", lambda: anthropic_stream(an, model))
        check(f"anthropic {model}: tool_use round trip", lambda: anthropic_tools(an, model))
        check(f"anthropic {model}: streaming tool_use", lambda: anthropic_stream_tools(an, model))
        check(f"anthropic {model}: messages.count_tokens", lambda: anthropic_count_tokens(an, model))
    if "chat-claude" in MODELS and CLAUDE_MOCK:
        check(
            "anthropic chat-claude: body reaches the Anthropic upstream as sent (model aside)",
            lambda: anthropic_lossless(an, "chat-claude"),
        )
        check(
            "anthropic chat-claude: streamed, as sent; thinking with its signature comes back",
            lambda: anthropic_lossless_stream(an, "chat-claude"),
        )
    if GPT_MOCK:
        check(
            "openai chat-continued: a broken stream finished on another route, marked",
            lambda: openai_stream_continued(oa),
        )
        check(
            "anthropic chat-continued: a broken stream finished as one message",
            lambda: anthropic_stream_continued(an),
        )
    print("python: all checks passed")


if __name__ == "__main__":
    main()
