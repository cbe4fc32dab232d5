// The official OpenAI SDK, unchanged, pointed at Beamline (`./build.sh run`): a whole chat
// completion, then a streamed one. The key is the example configuration's demo key.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.BEAMLINE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.BEAMLINE_API_KEY ?? "bl_demo_HzkXZldHOaTv1OlnmftTNg7Q5-gMLaD0_zPsB7etegw",
});

const whole = await client.chat.completions.create({
  model: "default", // a policy of the tenant; a provider id or a provider's model works too
  messages: [{ role: "user", content: "Hello from the OpenAI SDK" }],
});
console.log(`${whole.model}: ${whole.choices[0].message.content}`);

const stream = await client.chat.completions.create({
  model: "default",
  messages: [{ role: "user", content: "Stream this back to me" }],
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  if (chunk.usage) {
    process.stdout.write(`\n(usage: ${chunk.usage.prompt_tokens} in, ${chunk.usage.completion_tokens} out)\n`);
  }
}
