// index.js: written by scripts/vendor-web; do not edit.
//
// The vendored libraries under their content-hashed names. DOMPurify's
// minified build is UMD: imported for its side effect, it sets
// globalThis.DOMPurify, which is taken from there. highlight.js and its
// languages are loaded on first use.
import './purify-f69a46022ab1.min.js';

export const DOMPurify = globalThis.DOMPurify;
export { marked } from './marked-4d2d824f3035.esm.js';

export function loadHighlight() {
  return import('./highlight-core-67a339aa6888.min.js').then((m) => m.default);
}

// Language name -> loader of its grammar.
export const languages = {
  'bash': () => import('./hljs-bash-7db1758fe6f0.min.js'),
  'c': () => import('./hljs-c-edada72825cc.min.js'),
  'cpp': () => import('./hljs-cpp-aa67eeacdbbd.min.js'),
  'css': () => import('./hljs-css-2f4264d9a07a.min.js'),
  'diff': () => import('./hljs-diff-cbd7cf3b49be.min.js'),
  'go': () => import('./hljs-go-05658f281f7f.min.js'),
  'java': () => import('./hljs-java-7987da1c2dcc.min.js'),
  'javascript': () => import('./hljs-javascript-c3dbd515a79e.min.js'),
  'json': () => import('./hljs-json-8f2343ffbcc4.min.js'),
  'markdown': () => import('./hljs-markdown-73cb474b4687.min.js'),
  'python': () => import('./hljs-python-fd5d479dcc9d.min.js'),
  'rust': () => import('./hljs-rust-fde151d2b246.min.js'),
  'sql': () => import('./hljs-sql-79bead5cf2bf.min.js'),
  'typescript': () => import('./hljs-typescript-0e10ce9a81d4.min.js'),
  'xml': () => import('./hljs-xml-2e8c8ba1e7a2.min.js'),
  'yaml': () => import('./hljs-yaml-7010955f1f87.min.js'),
};

// A code fence's alias -> its language name.
export const aliases = {
  'c++': 'cpp',
  'cc': 'cpp',
  'console': 'bash',
  'cxx': 'cpp',
  'golang': 'go',
  'h': 'c',
  'hpp': 'cpp',
  'html': 'xml',
  'js': 'javascript',
  'jsonc': 'json',
  'jsx': 'javascript',
  'md': 'markdown',
  'mjs': 'javascript',
  'patch': 'diff',
  'postgresql': 'sql',
  'py': 'python',
  'rs': 'rust',
  'sh': 'bash',
  'shell': 'bash',
  'sqlite': 'sql',
  'svg': 'xml',
  'ts': 'typescript',
  'tsx': 'typescript',
  'yml': 'yaml',
  'zsh': 'bash',
};
