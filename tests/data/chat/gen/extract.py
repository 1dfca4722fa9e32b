#!/usr/bin/env python3
"""Writes the template texts of llama.cpp's tests/test-chat-template.cpp (its test_cases list) to
OUTDIR/lcpp-test-<model>.jinja, one file each, byte for byte as the C++ string literals spell them.
Usage: extract.py LLAMA_CPP/tests/test-chat-template.cpp OUTDIR"""
import ast, os, re, sys

src = open(sys.argv[1], encoding='utf-8').read()
outdir = sys.argv[2]
LIT = r'"(?:[^"\\\n]|\\.)*"'  # one C string literal (the escapes used there mean the same in Python)
pat = re.compile(r'/\* \.name= \*/\s*(' + LIT + r'),\s*\n(?:\s*//[^\n]*\n)*\s*/\* \.template_str= \*/\s*(?:U8C\()?(' + LIT + r')')
for m in pat.finditer(src):
    name, tmpl = ast.literal_eval(m.group(1)), ast.literal_eval(m.group(2))
    slug = re.sub(r'[^A-Za-z0-9.]+', '-', name.split(' (')[0]).strip('-')
    if "'v1' template" in name:
        slug += '-v1'
    path = os.path.join(outdir, 'lcpp-test-' + slug + '.jinja')
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(tmpl)
    print(path, len(tmpl.encode('utf-8')))
