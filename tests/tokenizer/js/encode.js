// Encodes texts with a @lenml/tokenizer-* package (transformers.js), for
// test_tokenizer_js.sh. usage: node encode.js PACKAGE TEXTS.inp OUT_PREFIX
// Texts are separated by "\n__ggml_vocab_test__\n". Writes OUT_PREFIX.ids
// (one line of ids per text, add_special_tokens false), OUT_PREFIX.nfc (the
// texts in NFC, same separator: the Qwen tokenizer normalizes to NFC, which
// llama.cpp does not) and prints the chkhsh that llama.cpp's
// convert_hf_to_gguf.py computes to name the pre-tokenizer.
const fs = require('fs');
const crypto = require('crypto');
const [pkg, inp, out] = process.argv.slice(2);
const sep = '\n__ggml_vocab_test__\n';
const texts = fs.readFileSync(inp, 'utf8').split(sep);
const tok = require(pkg).fromPreTrained();
const lines = texts.map((t) => tok.encode(t, { add_special_tokens: false }).join(' '));
fs.writeFileSync(out + '.ids', lines.join('\n') + '\n');
fs.writeFileSync(out + '.nfc', texts.map((t) => t.normalize('NFC')).join(sep));
// convert_hf_to_gguf.py's chktxt; AutoTokenizer.encode adds special tokens
const chktxt = '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL';
const chk = tok.encode(chktxt);
console.log('chkhsh ' + crypto.createHash('sha256').update('[' + chk.join(', ') + ']').digest('hex'));
console.log('texts ' + texts.length);
