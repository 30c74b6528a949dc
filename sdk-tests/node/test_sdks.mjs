// End-to-end checks of the gateway with the official OpenAI Node SDK.
//
// Run by sdk-tests/run.sh; by hand: SIGNALBOX_URL=http://127.0.0.1:4000 node test_sdks.mjs
// Optional: SDK_MODELS="chat-gpt" limits the checks to some aliases (default: chat-claude chat-gpt).
//
// What the mock upstreams answer (crates/signalbox-mock/src/answer.rs): text
// "[<mock name>] echo: <last user message text>" (finish "stop"); when tools are offered and the
// last user text has the word "weather", one call of the first tool with arguments
// {"location":"Paris"} (finish "tool_calls"). A tool result is not user text, so the follow-up
// after a tool result offers no tools and is answered with the echo of the question.
//
// Prints one line per passing check; exits 1 at the first failure.

import OpenAI from "openai";
import { readFileSync } from "node:fs";

const BASE = (process.env.SIGNALBOX_URL ?? "").replace(/\/+$/, "");
const API_KEY = "sk-test";
// alias -> the provider name the gateway reports in `x-signalbox-provider`
const PROVIDERS = { "chat-claude": "claude", "chat-gpt": "gpt", "responses-gpt": "gpt" };
// The alias whose route declares `endpoint: [chat, responses]`: Responses requests pass through.
const PASSTHROUGH = "responses-gpt";
// The OpenAI mock upstream, whose /_mock/stats shows the last body it received.
const GPT_MOCK = (process.env.GPT_MOCK_URL ?? "").replace(/\/+$/, "");
const MODELS = (process.env.SDK_MODELS ?? "chat-claude chat-gpt").split(/\s+/).filter(Boolean);

const QUESTION = "What is the weather in Paris?";
const WEATHER_RESULT = JSON.stringify({ city: "Paris", temperature_c: 18, conditions: "sunny" });
const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      },
    },
  },
];

class CheckFailed extends Error {}

function expect(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function expectProvider(headers, model) {
  const got = headers.get("x-signalbox-provider");
  expect(got === PROVIDERS[model], `x-signalbox-provider is ${JSON.stringify(got)}, expected ${JSON.stringify(PROVIDERS[model])}`);
}

function expectEcho(text, userText) {
  expect(
    typeof text === "string" && text.includes(`echo: ${userText}`),
    `answer ${JSON.stringify(text)} does not echo ${JSON.stringify(userText)}`,
  );
}

async function check(name, fn) {
  try {
    await fn();
  } catch (e) {
    console.error(`FAIL node ${name}`);
    if (e instanceof CheckFailed) {
      console.error(`  AssertionError: ${e.message}`);
    } else {
      console.error(`  ${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}`);
      if (e instanceof OpenAI.APIError) {
        console.error(`  HTTP ${e.status}, x-request-id ${e.headers?.get?.("x-request-id") ?? e.requestID}`);
        if (e.error) console.error(`  body: ${JSON.stringify(e.error)}`);
      } else if (e?.stack) {
        console.error(e.stack);
      }
    }
    process.exit(1);
  }
  console.log(`PASS node ${name}`);
}

async function chat(client, model) {
  const userText = `Hello from the Node openai SDK, ${model}, non-streaming`;
  const { data: completion, response } = await client.chat.completions
    .create({ model, messages: [{ role: "user", content: userText }] })
    .withResponse();
  expectProvider(response.headers, model);
  expect(completion.choices.length === 1, `${completion.choices.length} choices`);
  const choice = completion.choices[0];
  expect(choice.message.role === "assistant", `role ${JSON.stringify(choice.message.role)}`);
  expectEcho(choice.message.content, userText);
  expect(choice.finish_reason === "stop", `finish_reason ${JSON.stringify(choice.finish_reason)}`);
  expect(!choice.message.tool_calls?.length, `unexpected tool calls ${JSON.stringify(choice.message.tool_calls)}`);
}

async function stream(client, model) {
  const userText = `Hello from the Node openai SDK, ${model}, streaming`;
  const { data: chunks, response } = await client.chat.completions
    .create({ model, messages: [{ role: "user", content: userText }], stream: true })
    .withResponse();
  expectProvider(response.headers, model);
  let text = "";
  let finish = null;
  let count = 0;
  for await (const chunk of chunks) {
    count += 1;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  expect(count >= 2, `only ${count} chunks`);
  expectEcho(text, userText);
  expect(finish === "stop", `finish_reason ${JSON.stringify(finish)}`);
}

async function tools(client, model) {
  const messages = [{ role: "user", content: QUESTION }];
  let completion = await client.chat.completions.create({ model, messages, tools: TOOLS });
  let choice = completion.choices[0];
  expect(choice.finish_reason === "tool_calls", `finish_reason ${JSON.stringify(choice.finish_reason)}`);
  const calls = choice.message.tool_calls ?? [];
  expect(calls.length === 1, `expected one tool call, got ${JSON.stringify(calls)}`);
  const call = calls[0];
  expect(call.type === "function", `tool call type ${JSON.stringify(call.type)}`);
  expect(call.function.name === "get_weather", `tool call name ${JSON.stringify(call.function.name)}`);
  const args = JSON.parse(call.function.arguments);
  expect(args && typeof args === "object" && !Array.isArray(args), `arguments ${call.function.arguments} are not an object`);
  expect(Boolean(call.id), "tool call without id");

  messages.push({
    role: "assistant",
    content: choice.message.content ?? null,
    tool_calls: [{ id: call.id, type: "function", function: { name: call.function.name, arguments: call.function.arguments } }],
  });
  messages.push({ role: "tool", tool_call_id: call.id, content: WEATHER_RESULT });
  completion = await client.chat.completions.create({ model, messages });
  choice = completion.choices[0];
  expect(choice.finish_reason === "stop", `follow-up finish_reason ${JSON.stringify(choice.finish_reason)}`);
  expect(!choice.message.tool_calls?.length, `follow-up tool calls ${JSON.stringify(choice.message.tool_calls)}`);
  expectEcho(choice.message.content, QUESTION);
}

async function streamTools(client, model) {
  const chunks = await client.chat.completions.create({
    model,
    messages: [{ role: "user", content: QUESTION }],
    tools: TOOLS,
    stream: true,
  });
  const calls = new Map(); // index -> { id, name, arguments }
  let finish = null;
  for await (const chunk of chunks) {
    for (const choice of chunk.choices) {
      finish = choice.finish_reason ?? finish;
      for (const delta of choice.delta?.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { id: "", name: "", arguments: "" };
        call.id += delta.id ?? "";
        call.name += delta.function?.name ?? "";
        call.arguments += delta.function?.arguments ?? "";
        calls.set(delta.index, call);
      }
    }
  }
  expect(finish === "tool_calls", `finish_reason ${JSON.stringify(finish)}`);
  expect(calls.size === 1, `expected one streamed tool call, got ${JSON.stringify([...calls.values()])}`);
  const [call] = calls.values();
  expect(call.name === "get_weather", `streamed tool call name ${JSON.stringify(call.name)}`);
  expect(Boolean(call.id), "streamed tool call without id");
  const args = JSON.parse(call.arguments);
  expect(args && typeof args === "object" && !Array.isArray(args), `streamed arguments ${call.arguments} are not an object`);
}

const RESPONSES_TOOLS = TOOLS.map((t) => ({
  type: "function",
  name: t.function.name,
  description: t.function.description,
  parameters: t.function.parameters,
}));

async function responses(client, model) {
  const userText = `Hello from the Node openai SDK, ${model}, responses`;
  const { data: response, response: http } = await client.responses
    .create({ model, instructions: "Answer briefly.", input: userText })
    .withResponse();
  expectProvider(http.headers, model);
  expect(response.status === "completed", `status ${JSON.stringify(response.status)}`);
  expectEcho(response.output_text, userText);
  expect(response.usage?.output_tokens > 0, `usage ${JSON.stringify(response.usage)}`);
}

async function responsesStream(client, model) {
  const userText = `Hello from the Node openai SDK, ${model}, responses streaming`;
  const stream = client.responses.stream({ model, input: userText });
  let deltas = "";
  const kinds = [];
  for await (const event of stream) {
    kinds.push(event.type);
    if (event.type === "response.output_text.delta") deltas += event.delta;
  }
  const final = await stream.finalResponse();
  expect(kinds[0] === "response.created", `first event ${kinds[0]}`);
  expect(kinds.at(-1) === "response.completed", `last event ${kinds.at(-1)}`);
  expectEcho(deltas, userText);
  expect(final.output_text === deltas, `final ${JSON.stringify(final.output_text)} != deltas`);
}

/** The OpenAI mock got a Responses body (not a chat body) with the SDK's input. */
async function expectPassedThrough(userText) {
  const stats = await (await fetch(`${GPT_MOCK}/_mock/stats`)).json();
  const got = stats.last_request;
  expect(!("messages" in got), `a chat body reached the upstream: ${JSON.stringify(got)}`);
  expect(JSON.stringify(got.input).includes(userText), `upstream input ${JSON.stringify(got.input)}`);
  expect(got.store === false, `store ${JSON.stringify(got.store)} on a zero-retention route`);
}

async function responsesPassthrough(client) {
  const userText = "Hello from the Node openai SDK, responses passed through";
  const { data: response, response: http } = await client.responses
    .create({ model: PASSTHROUGH, input: userText, reasoning: { effort: "low" } })
    .withResponse();
  expectProvider(http.headers, PASSTHROUGH);
  await expectPassedThrough(userText);
  // The provider's own Response object (the mock names it resp_mock-<n>).
  expect(response.id.startsWith("resp_mock-"), `id ${response.id}`);
  expectEcho(response.output_text, userText);
  expect(response.usage?.output_tokens > 0, `usage ${JSON.stringify(response.usage)}`);
}

async function responsesPassthroughStream(client) {
  const userText = "Hello from the Node openai SDK, responses streamed through";
  const stream = client.responses.stream({ model: PASSTHROUGH, input: userText });
  let deltas = "";
  const kinds = [];
  for await (const event of stream) {
    kinds.push(event.type);
    if (event.type === "response.output_text.delta") deltas += event.delta;
  }
  const final = await stream.finalResponse();
  await expectPassedThrough(userText);
  expect(kinds[0] === "response.created" && kinds.at(-1) === "response.completed", `events ${kinds}`);
  expectEcho(deltas, userText);
  expect(final.id.startsWith("resp_mock-"), `id ${final.id}`);
  expect(final.output_text === deltas, `final ${JSON.stringify(final.output_text)} != deltas`);
}

async function responsesTools(client, model) {
  const response = await client.responses.create({ model, input: QUESTION, tools: RESPONSES_TOOLS });
  const calls = response.output.filter((i) => i.type === "function_call");
  expect(calls.length === 1, `expected one function call, got ${JSON.stringify(response.output)}`);
  expect(calls[0].name === "get_weather", `function call name ${calls[0].name}`);
  const followUp = await client.responses.create({
    model,
    input: [
      { role: "user", content: QUESTION },
      ...response.output,
      { type: "function_call_output", call_id: calls[0].call_id, output: WEATHER_RESULT },
    ],
  });
  expectEcho(followUp.output_text, QUESTION);
}

async function embeddings(client) {
  // The SDK asks for base64 unless told otherwise and decodes it itself.
  const { data: got, response: http } = await client.embeddings
    .create({ model: "embed", input: ["first text", "second"] })
    .withResponse();
  const route = http.headers.get("x-signalbox-route");
  expect(route === "text-embedding-3-small", `route ${route}`);
  expect(got.data.length === 2, `${got.data.length} vectors`);
  expect(got.data.map((d) => d.index).join() === "0,1", `indexes ${got.data.map((d) => d.index)}`);
  expect(got.data[0].embedding.length === 1536, `${got.data[0].embedding.length} dimensions`);
  const norm = Math.sqrt(got.data[0].embedding.reduce((s, x) => s + x * x, 0));
  expect(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  const floats = await client.embeddings.create({
    model: "embed",
    input: "first text",
    encoding_format: "float",
  });
  const same = floats.data[0].embedding.every((x, i) => Math.abs(x - got.data[0].embedding[i]) < 1e-6);
  expect(same, "float and base64 answers differ");
  let refused = false;
  try {
    await client.embeddings.create({ model: "chat-gpt", input: "x" });
  } catch (e) {
    refused = e.status === 400 && String(e.message).includes("endpoint");
  }
  expect(refused, "an embeddings request to a chat alias was not refused with a 400 naming the endpoint");
}

async function main() {
  if (!BASE) {
    console.error("SIGNALBOX_URL is not set (e.g. http://127.0.0.1:4000)");
    process.exit(2);
  }
  const unknown = MODELS.filter((m) => !(m in PROVIDERS));
  if (unknown.length) {
    console.error(`unknown model(s) in SDK_MODELS: ${unknown.join(", ")}`);
    process.exit(2);
  }
  const sdkVersion = JSON.parse(
    readFileSync(new URL("./node_modules/openai/package.json", import.meta.url), "utf8"),
  ).version;
  console.log(`node: openai ${sdkVersion} (node ${process.version}), gateway ${BASE}`);
  const client = new OpenAI({ apiKey: API_KEY, baseURL: `${BASE}/v1`, maxRetries: 0, timeout: 30_000 });
  for (const model of MODELS) {
    await check(`openai ${model}: non-streaming chat`, () => chat(client, model));
    await check(`openai ${model}: streaming chat`, () => stream(client, model));
    await check(`openai ${model}: tool call round trip`, () => tools(client, model));
    await check(`openai ${model}: streaming tool call`, () => streamTools(client, model));
    await check(`openai ${model}: responses.create`, () => responses(client, model));
    await check(`openai ${model}: responses.stream`, () => responsesStream(client, model));
    await check(`openai ${model}: responses function call`, () => responsesTools(client, model));
  }
  await check("openai: embeddings.create (base64 and float, chat alias refused)", () => embeddings(client));
  if (GPT_MOCK) {
    await check(`openai ${PASSTHROUGH}: responses.create passed through as written`, () =>
      responsesPassthrough(client),
    );
    await check(`openai ${PASSTHROUGH}: responses.stream passed through event by event`, () =>
      responsesPassthroughStream(client),
    );
  }
  console.log("node: all checks passed");
}

await main();
