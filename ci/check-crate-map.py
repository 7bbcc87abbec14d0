#!/usr/bin/env python3
"""Checks the workspace's crate graph against the crate map in ARCHITECTURE.md.

The table between `<!-- crate-map` and `<!-- end crate-map -->` lists every
workspace crate, the workspace crates it may depend on, and crates it must
never use (`name` or `name/feature`). Normal and build dependencies are
checked; dev-dependencies (tests) are free. Fails (exit 1) naming each
violation, so the map and the code cannot drift apart.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def read_map(path):
    text = open(path, encoding='utf-8').read()
    m = re.search(r'<!-- crate-map[^>]*-->(.*?)<!-- end crate-map -->', text, re.S)
    if not m:
        sys.exit(f'{path}: no crate-map table found')
    rules = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 4 or not cells[0].startswith('`'):
            continue
        name = cells[0].strip('`')
        allowed = set(re.findall(r'`([^`]+)`', cells[2]))
        every = 'every crate above' in cells[2]
        never = set(re.findall(r'`([^`]+)`', cells[3]))
        rules[name] = (allowed, every, never)
    return rules


def main():
    rules = read_map(os.path.join(ROOT, 'ARCHITECTURE.md'))
    meta = json.loads(subprocess.run(
        ['cargo', 'metadata', '--format-version', '1', '--no-deps'],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    members = {p['name']: p for p in meta['packages']}
    problems = []
    for name in sorted(members):
        if name not in rules:
            problems.append(f'{name}: not in the crate map of ARCHITECTURE.md')
    for name in sorted(rules):
        if name not in members:
            problems.append(f'{name}: in the crate map but not a workspace member')
    order = list(rules)
    for name, pkg in sorted(members.items()):
        if name not in rules:
            continue
        allowed, every, never = rules[name]
        if every:
            allowed = set(order[:order.index(name)])
        for dep in pkg['dependencies']:
            if dep['kind'] == 'dev':
                continue
            real = dep['name']
            if real in members and real not in allowed:
                problems.append(f'{name} depends on {real}, which the crate map does not allow')
            if real in never:
                problems.append(f'{name} uses {real}, which the crate map forbids')
            for feat in dep.get('features', []):
                if f'{real}/{feat}' in never:
                    problems.append(f'{name} uses {real} with feature "{feat}", which the crate map forbids')
    if problems:
        print('crate map violations (ARCHITECTURE.md, "Crate map"):')
        for p in problems:
            print('  ' + p)
        return 1
    print(f'crate map: {len(members)} crates, every dependency allowed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
