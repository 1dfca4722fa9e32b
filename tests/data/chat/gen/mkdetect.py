# Builds detect.tsv from `ref detect` / `ref detect-str` output: adds the name ZetaLm must give,
# which is llama.cpp's when ZetaLm renders that template and NULL ("-") otherwise.
# Usage: mkdetect.py FILES.out STRINGS.out NAME...   (NAME...: the names ZetaLm renders)
import sys
OURS = set(sys.argv[3:])
print('# kind<TAB>file or escaped text<TAB>llama.cpp d32676d77 detects<TAB>ZetaLm must return ("-" = NULL)')
for kind, path in (('file', sys.argv[1]), ('text', sys.argv[2])):
    for line in open(path, encoding='utf-8').read().split('\n'):
        if not line: continue
        val, lcpp = line.rsplit('\t', 1)
        print('\t'.join((kind, val, lcpp, lcpp if lcpp in OURS else '-')))
