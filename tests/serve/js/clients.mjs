// The official JavaScript clients against azc serve: npm's `ollama`
// (ollama-js) and `openai`, streaming and not. Prints one JSON object of
// what each call returned; test_serve_js.py checks it.
// A multi-turn ollama.chat conversation on CHAT_MODEL (a chat template)
// re-sends its history each turn, as ollama-js users do; the server
// reuses the earlier turns from the slot's KV cache.
// usage: node clients.mjs URL MODEL CHAT_MODEL
import { Ollama } from 'ollama';
import OpenAI from 'openai';

const [url, model, chatModel] = process.argv.slice(2);
const out = {};
const greedy = { temperature: 0, num_predict: 20 };

const ollama = new Ollama({ host: url });
out.version = (await ollama.version()).version;
out.list = (await ollama.list()).models.map((m) => m.name);
out.show_family = (await ollama.show({ model })).details.family;
const g = await ollama.generate({ model, prompt: 'Salam dunya', options: greedy, stream: false });
out.generate = { text: g.response, done: g.done, done_reason: g.done_reason, eval_count: g.eval_count,
                 total_duration: g.total_duration, prompt_eval_count: g.prompt_eval_count };
let text = '', parts = 0, last = null;
for await (const part of await ollama.generate({ model, prompt: 'Salam dunya', options: greedy, stream: true })) {
  text += part.response;
  parts++;
  last = part;
}
out.generate_stream = { text, parts, done: last.done, eval_count: last.eval_count };
const msgs = [{ role: 'user', content: 'Salam dunya' }];
const c = await ollama.chat({ model, messages: msgs, options: greedy, stream: false });
out.chat = { text: c.message.content, role: c.message.role, done_reason: c.done_reason };
text = '';
for await (const part of await ollama.chat({ model, messages: msgs, options: greedy, stream: true })) {
  text += part.message.content;
}
out.chat_stream = { text };
out.ps = (await ollama.ps()).models.map((m) => m.name);
try {
  await ollama.generate({ model: 'no-such-model', prompt: 'x', stream: false });
  out.ollama_error = 'no error';
} catch (e) {
  out.ollama_error = { status: e.status_code, message: e.error || e.message };
}

const openai = new OpenAI({ baseURL: url + '/v1', apiKey: 'azc', maxRetries: 0 });
out.models = (await openai.models.list()).data.map((m) => m.id);
const oc = await openai.chat.completions.create({ model, messages: msgs, max_tokens: 20, temperature: 0 });
out.oai_chat = { text: oc.choices[0].message.content, finish_reason: oc.choices[0].finish_reason,
                 usage: oc.usage };
text = '';
let usage = null, finish = null;
const stream = await openai.chat.completions.create({ model, messages: msgs, max_tokens: 20, temperature: 0,
                                                     stream: true, stream_options: { include_usage: true } });
for await (const chunk of stream) {
  if (chunk.choices.length) {
    text += chunk.choices[0].delta.content || '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
out.oai_chat_stream = { text, finish_reason: finish, usage };
const cc = await openai.completions.create({ model, prompt: 'Salam dunya', max_tokens: 20, temperature: 0,
                                             seed: 1, top_p: 0.5 });
out.oai_completion = { text: cc.choices[0].text, finish_reason: cc.choices[0].finish_reason };
text = '';
for await (const chunk of await openai.completions.create({ model, prompt: 'Salam dunya', max_tokens: 20,
                                                            temperature: 0, stream: true })) {
  text += chunk.choices.length ? chunk.choices[0].text : '';
}
out.oai_completion_stream = { text };
try {
  await openai.chat.completions.create({ model: 'no-such-model', messages: msgs });
  out.openai_error = 'no error';
} catch (e) {
  out.openai_error = { status: e.status, message: e.error ? e.error.message : e.message };
}

// multi-turn chat, streamed as `ollama run` does, the history re-sent each turn
const history = [{ role: 'system', content: 'You are brief.' }];
out.turns = [];
for (const q of ['Salam dunya', 'Necesen?', 'Sag ol']) {
  history.push({ role: 'user', content: q });
  let answer = '', final = null;
  for await (const part of await ollama.chat({ model: chatModel, messages: history, options: greedy, stream: true })) {
    answer += part.message.content;
    if (part.done) final = part;
  }
  out.turns.push({ messages: history.map((m) => ({ ...m })), text: answer,
                   prompt_eval_count: final.prompt_eval_count,
                   prompt_eval_cached_count: final.prompt_eval_cached_count });
  history.push({ role: 'assistant', content: answer });
}
console.log(JSON.stringify(out));
