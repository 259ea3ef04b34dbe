"""Random texts for tokcheck.py: words, contractions in both cases, numbers, Azerbaijani,
other scripts, emoji (ZWJ, skin tones, flags), combining marks, punctuation, code,
special-token spellings and runs of whitespace. usage: gen_texts.py SEED LINES"""
import random, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
pieces = ["Hello", "world", "HELLO", "don't", "I'M", "you're", "they'LL", "we've", "It's", "O'Neil", "'s", "'t",
  "123", "4567", "89", "1234567890", "3.14159", "1,000,000", "x2", "v1.2.3", "0x1F",
  "Salam", "necəsən", "Azərbaycan", "İstanbul", "ığüşöçə", "ĞÜŞİÖÇƏ", "Привет", "мир", "你好", "世界", "こんにちは", "カタカナ",
  "안녕하세요", "مرحبا", "שלום", "नमस्ते", "ไทย", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇦🇿", "❤️", "e\u0301", "n\u0303", "Å", "ß", "ﬁ", "Ⅻ", "①", "²", "½",
  "!", "?!", "...", "—", "–", "«»", "“quoted”", "(paren)", "[x]", "{y}", "<tag>", "</s>", "<|endoftext|>", "@user", "#tag", "$5", "%", "&&", "||", "==", "!=", "->", "=>", "::",
  "def f(x):", "return x+1", "int main() {", "}", "/* c */", "// x", "http://example.com/a?b=c", "a_b_c", "CamelCase", "snake_case_2",
  "\\n", "\\n\\n", "\\t", "  ", "   ", " \\n ", "\\n\\n\\n", "\u00a0", "\u3000", "\u200b"]
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 300):
    k = random.randint(1, 12)
    s = ""
    for i in range(k):
        p = random.choice(pieces)
        sep = random.choice(["", " ", " ", " ", "  ", "\\n", "\\t", " \\n"])
        s += (sep if i else random.choice(["", " ", "  "])) + p
    if random.random() < 0.1: s += " "
    print(s)
