// Drives cogen serve with the official npm openai package, unchanged.
// Usage: node openai_client.mjs BASE_URL TOKEN USER
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH, "x.js"));
const OpenAI = require("openai").default ?? require("openai");

const [baseURL, apiKey, user] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

function check(cond, msg) {
  if (!cond) {
    console.error("FAIL: " + msg);
    process.exit(1);
  }
}

const models = await client.models.list();
check(models.data.some((m) => m.id === "cogen-sketch"), "models list cogen-sketch");
console.log("models ok");

const params = {
  model: "cogen-sketch",
  user,
  messages: [{ role: "user", content: "Write a note on my week: keep it short." }],
  max_tokens: 16,
  temperature: 0.8,
  seed: 1,
};
const chat = await client.chat.completions.create(params);
const text = chat.choices[0].message.content;
check(typeof text === "string" && text.length > 0, "chat text");
console.log("chat ok");

const stream = await client.chat.completions.create({ ...params, stream: true });
let streamed = "";
let weights = 0;
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
  if (typeof chunk.cogen?.w === "number") weights++;
}
check(streamed === text, `stream text ${JSON.stringify(streamed)} != ${JSON.stringify(text)}`);
console.log("stream ok");
check(weights > 0, "weights in the stream");
console.log("weights ok");

try {
  await client.chat.completions.create({ ...params, user: "nobody" });
  check(false, "unknown user accepted");
} catch (e) {
  check(e.status === 404, "unknown user: status " + e.status);
}
console.log("error ok");
