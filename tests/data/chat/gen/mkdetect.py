# Builds detect.tsv from `ref detect` / `ref detect-str` output: adds the name ZetaLm must give.
import sys
OURS = ['chatml', 'llama2', 'llama3', 'mistral', 'gemma', 'phi3', 'zephyr', 'deepseek']
VARIANT = {'chatml': 'chatml', 'llama2-sys-strip': 'llama2', 'llama3': 'llama3', 'mistral-v3': 'mistral',
           'gemma': 'gemma', 'phi3': 'phi3', 'zephyr': 'zephyr', 'deepseek3': 'deepseek'}
print('# kind<TAB>file or escaped text<TAB>llama.cpp d32676d77 detects<TAB>ZetaLm must return ("-" = NULL)')
for kind, path in (('file', sys.argv[1]), ('text', sys.argv[2])):
    for line in open(path, encoding='utf-8').read().split('\n'):
        if not line: continue
        val, lcpp = line.rsplit('\t', 1)
        zeta = val if (kind == 'text' and val in OURS) else VARIANT.get(lcpp, '-')
        print('\t'.join((kind, val, lcpp, zeta)))
