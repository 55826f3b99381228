// Drives cogen cloud with the official npm openai package.
// Usage: node openai_client.mjs BASE_URL
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH, "x.js"));
const OpenAI = require("openai").default ?? require("openai");

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });

function check(cond, msg) {
  if (!cond) {
    console.error("FAIL: " + msg);
    process.exit(1);
  }
}

const chat = await client.chat.completions.create({
  model: "tiny",
  messages: [{ role: "user", content: "Tell me about the nodes" }],
  max_tokens: 16,
  seed: 1,
  logprobs: true,
  top_logprobs: 2,
});
const text = chat.choices[0].message.content;
check(typeof text === "string" && text.length > 0, "chat text");
console.log("chat ok");
check(chat.choices[0].logprobs.content.length > 0 && chat.choices[0].logprobs.content[0].top_logprobs.length === 2, "logprobs");
console.log("logprobs ok");

const stream = await client.chat.completions.create({
  model: "tiny",
  messages: [{ role: "user", content: "Tell me about the nodes" }],
  max_tokens: 16,
  seed: 1,
  stream: true,
});
let streamed = "";
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
}
check(streamed === text, `stream text ${JSON.stringify(streamed)} != ${JSON.stringify(text)}`);
console.log("stream ok");

const comp = await client.completions.create({
  model: "tiny",
  prompt: [1, 100, 200],
  max_tokens: 4,
  logprobs: 3,
  echo: true,
});
check(comp.choices[0].logprobs.tokens.length === 3 + comp.usage.completion_tokens, "completion logprobs");
console.log("completion ok");
