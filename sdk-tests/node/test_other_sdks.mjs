// End-to-end checks of the gateway with the Node SDKs other than OpenAI's: the Vercel AI SDK
// (`ai`) with its default OpenAI provider (which calls /v1/responses) and its Anthropic provider,
// and the official Anthropic Node SDK.
//
// Run by sdk-tests/run.sh after test_sdks.mjs; by hand:
//   SIGNALBOX_URL=http://127.0.0.1:4000 node test_other_sdks.mjs
// The mock upstreams answer "[<mock name>] echo: <last user message text>" (see test_sdks.mjs).
//
// Prints one line per passing check; exits 1 at the first failure.

import Anthropic from "@anthropic-ai/sdk";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, jsonSchema, streamText } from "ai";

const BASE = (process.env.SIGNALBOX_URL ?? "").replace(/\/+$/, "");
const API_KEY = "sk-test";
const MODELS = (process.env.SDK_MODELS ?? "chat-claude chat-gpt").split(/\s+/).filter(Boolean);

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

function expectEcho(text, userText) {
  expect(typeof text === "string" && text.includes(`echo: ${userText}`), `answer ${JSON.stringify(text)} does not echo ${JSON.stringify(userText)}`);
}

async function check(name, fn) {
  try {
    await fn();
  } catch (e) {
    console.error(`FAIL node ${name}`);
    console.error(`  ${e?.stack ?? e}`);
    if (e?.responseBody) console.error(`  body: ${e.responseBody}`);
    process.exit(1);
  }
  console.log(`PASS node ${name}`);
}

/** A fetch that records the paths it was asked for. */
function recording(paths) {
  return (url, init) => {
    paths.push(new URL(url).pathname);
    return fetch(url, init);
  };
}

async function aiSdkOpenAi(model) {
  const paths = [];
  const openai = createOpenAI({ baseURL: `${BASE}/v1`, apiKey: API_KEY, fetch: recording(paths) });
  const userText = `Hello from the Vercel AI SDK, ${model}`;
  const { text, usage } = await generateText({ model: openai(model), prompt: userText, maxRetries: 0 });
  expect(paths.includes("/v1/responses"), `the default provider called ${paths.join(", ")}`);
  expectEcho(text, userText);
  expect(usage.outputTokens > 0, `usage ${JSON.stringify(usage)}`);

  const streamed = `Hello from the Vercel AI SDK, ${model}, streaming`;
  const result = streamText({ model: openai(model), prompt: streamed, maxRetries: 0 });
  let said = "";
  for await (const delta of result.textStream) said += delta;
  expectEcho(said, streamed);
  expect((await result.finishReason) === "stop", `finish reason ${await result.finishReason}`);
}

async function aiSdkAnthropic(model) {
  const anthropic = createAnthropic({ baseURL: `${BASE}/v1`, apiKey: API_KEY });
  const userText = `Hello from the Vercel AI SDK Anthropic provider, ${model}`;
  const { text } = await generateText({ model: anthropic(model), prompt: userText, maxRetries: 0 });
  expectEcho(text, userText);
  const result = streamText({ model: anthropic(model), prompt: userText, maxRetries: 0 });
  let said = "";
  for await (const delta of result.textStream) said += delta;
  expectEcho(said, userText);
}

async function anthropicSdk(model) {
  const client = new Anthropic({ apiKey: API_KEY, baseURL: BASE, maxRetries: 0 });
  const userText = `Hello from the Anthropic Node SDK, ${model}`;
  const message = await client.messages.create({
    model,
    max_tokens: 64,
    messages: [{ role: "user", content: userText }],
  });
  expectEcho(message.content.filter((b) => b.type === "text").map((b) => b.text).join(""), userText);
  const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: "user", content: userText }] });
  const final = await stream.finalMessage();
  expectEcho(final.content.filter((b) => b.type === "text").map((b) => b.text).join(""), userText);
  expect(final.stop_reason === "end_turn", `stop_reason ${final.stop_reason}`);
}

/** The AI SDK's generateObject (a JSON schema via /v1/responses `text.format`): answered with the
 * mocks' canned object, checked by the gateway against the schema before it is returned. */
async function aiSdkObject(model) {
  const paths = [];
  const openai = createOpenAI({ baseURL: `${BASE}/v1`, apiKey: API_KEY, fetch: recording(paths) });
  const schema = jsonSchema({
    type: "object",
    properties: { location: { type: "string" } },
    required: ["location"],
    additionalProperties: false,
  });
  const { object } = await generateObject({ model: openai(model), schema, prompt: "Where is the Eiffel Tower?", maxRetries: 0 });
  expect(paths.includes("/v1/responses"), `the default provider called ${paths.join(", ")}`);
  expect(object?.location === "Paris", `object ${JSON.stringify(object)}`);
}

if (!BASE) {
  console.error("SIGNALBOX_URL is not set (e.g. http://127.0.0.1:4000)");
  process.exit(2);
}
// The passthrough alias: the default provider's /v1/responses calls reach the OpenAI
// upstream's own Responses API as the SDK wrote them (examples/translation.yaml).
await check("ai-sdk openai responses-gpt: generateText + streamText passed through", () =>
  aiSdkOpenAi("responses-gpt"),
);
// Structured output: through the forced tool on Claude, natively on the passthrough route.
for (const model of ["chat-claude", "responses-gpt"]) {
  await check(`ai-sdk openai ${model}: generateObject (JSON schema, checked)`, () => aiSdkObject(model));
}
for (const model of MODELS) {
  await check(`ai-sdk openai ${model}: generateText + streamText (via /v1/responses)`, () => aiSdkOpenAi(model));
  await check(`ai-sdk anthropic ${model}: generateText + streamText`, () => aiSdkAnthropic(model));
  await check(`anthropic-sdk ${model}: messages.create + messages.stream`, () => anthropicSdk(model));
}
console.log("node: other SDKs, all checks passed");
