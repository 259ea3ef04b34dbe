#!/usr/bin/env bash
# The models the server tests serve, made by azc itself: a random-weight
# tiny-llama (azc mkmodel) compiled to WORK/tiny.bundle, the same with a
# ChatML chat template (WORK/tiny-chatml.bundle, a verified builtin) and with
# a template azc applies by evaluating it (WORK/tiny-jinja.bundle: a default
# system prompt, system messages rejected by raise_exception; kernels cached
# in WORK/cache, so the later ones compile nothing, nor does a rerun).
# Rebuilt when azc is newer.
# usage: make_model.sh AZC WORK
set -eu
azc=$1 work=$2
mkdir -p "$work"
export AZC_CACHE_DIR=$work/cache
if [ ! -f "$work/tiny.bundle" ] || [ "$azc" -nt "$work/tiny.bundle" ]; then
  "$azc" mkmodel --shape tiny-llama -o "$work/tiny.gguf"
  "$azc" compile "$work/tiny.gguf" -o "$work/tiny.bundle" 2>&1 | tail -n 3
fi
if [ ! -f "$work/tiny-chatml.bundle" ] || [ "$azc" -nt "$work/tiny-chatml.bundle" ]; then
  cat >"$work/chatml.jinja" <<'TEMPLATE'
{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
TEMPLATE
  "$azc" mkmodel --shape tiny-llama --chat-template "$work/chatml.jinja" -o "$work/tiny-chatml.gguf"
  "$azc" compile "$work/tiny-chatml.gguf" -o "$work/tiny-chatml.bundle" 2>&1 | grep -E "chat template|wrote"
fi
if [ ! -f "$work/tiny-jinja.bundle" ] || [ "$azc" -nt "$work/tiny-jinja.bundle" ]; then
  cat >"$work/jinja.jinja" <<'TEMPLATE'
{{- bos_token }}<|sys|>You are tiny.<|end|>
{%- for message in messages %}
  {%- if message.role == 'system' %}{{ raise_exception('This model takes no system message') }}{% endif %}
  {{- '<|' + message.role + '|>' + message.content | trim + '<|end|>' }}
{%- endfor %}
{%- if add_generation_prompt %}<|bot|>{% endif %}
TEMPLATE
  "$azc" mkmodel --shape tiny-llama --chat-template "$work/jinja.jinja" -o "$work/tiny-jinja.gguf"
  "$azc" compile "$work/tiny-jinja.gguf" -o "$work/tiny-jinja.bundle" 2>&1 | grep -E "chat template|wrote"
fi
ls -l "$work/tiny.bundle" "$work/tiny-chatml.bundle" "$work/tiny-jinja.bundle"
