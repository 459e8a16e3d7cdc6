// chat.js: one conversation, its answer streaming in as it is written.
//
// Opens at the newest messages of the current branch (?messages=N) and
// pages back (/branch?before=) as the log is scrolled up, so a long
// conversation opens as fast as a short one. Sending goes through REST;
// what happens then (the stored question, the answer's deltas, its end)
// arrives on the WebSocket, the same feed that shows an answer started
// from chatui or chatctl. Only the message being written is re-rendered,
// at most once per animation frame, so a fast stream stays smooth.
// Message text is rendered by markdown.js (sanitised) for answers and
// inserted as text for questions.

import { el, modal, copyText } from './dom.js';
import { renderMarkdown, renderStreaming } from './markdown.js';
import { untitled } from './sidebar.js';
import { live as feed } from './ws.js';

const PAGE = 50;              // messages per page of the branch
const FRESH_MS = 300;         // the socket open this long before a read
const NEAR_TOP_PX = 300;      // how close to the top loads older messages
const STICK_PX = 80;          // this close to the bottom follows the stream

// A message's status -> data-state, and the line shown under it.
const STATES = {
  complete: { state: 'done', note: null },
  streaming: { state: 'streaming', note: null },
  stopped: { state: 'stopped', note: 'Stopped.' },
  error: { state: 'error', note: 'The answer failed' },
  truncated: { state: 'error', note: 'The answer was cut short' },
  interrupted: { state: 'interrupted', note: 'The answer was interrupted' },
};

// Answers being written, as the socket brought them while this page was
// open, whichever conversation was shown. The stored text of a streaming
// answer is up to 250 ms old, so appending the socket's deltas to it
// could repeat or skip a piece; a conversation opened mid-answer takes
// the text from here instead when the socket saw that answer from its
// first piece (its question's `message` event came just before).
const STREAMS_MAX = 64;
const streams = new Map();    // message id -> {text, pieces, whole}
const asked = new Set();      // conversations whose question just came
const listening = performance.now();   // since when streams is filled
feed.on('message', (f) => asked.add(f.conversation_id));
feed.on('delta', (f) => {
  const id = f.data.message_id;
  let s = streams.get(id);
  if (!s) {
    if (streams.size >= STREAMS_MAX) streams.delete(streams.keys().next().value);
    s = { text: '', pieces: [], whole: asked.has(f.conversation_id) };
    asked.delete(f.conversation_id);
    streams.set(id, s);
  }
  s.text += f.data.text;
  s.pieces.push(f.data.text);
});
for (const t of ['done', 'error']) {
  feed.on(t, (f) => {
    const m = t === 'done' ? f.data : f.data && f.data.message;
    if (m) streams.delete(m.id);
  });
}
feed.on('reset', () => {
  streams.clear();
  asked.clear();
});

export function mount(root, ctx) {
  const { api, live, navigate } = ctx;
  let convId = ctx.params.id || null;
  let conv = null;
  let pendingModel = null;     // the choices made before the first send
  let pendingPrompt = null;
  const msgs = [];             // the branch shown, root first
  const byId = new Map();      // id -> {m, node, body, ...}
  let before = null;           // messages_before: the older page's end
  let loadingOlder = false;
  let streamingId = null;      // the answer being written, if any
  const dirty = new Set();     // ids to re-render at the next frame
  let frame = 0;
  let alive = true;
  let sending = false;
  let answering = null;        // the question being answered again
  let stick = true;            // the view follows the end of the log
  let held = null;             // live frames held while the branch loads

  /* ------------------------------------------------------------ layout */

  const title = el('h1', {}, convId ? '' : 'New chat');
  const model = el('select', { 'aria-label': 'Model' },
    el('option', { value: '' }, 'Default model'));
  const promptBtn = el('button', { type: 'button' }, 'System prompt');
  const log = el('section', { class: 'log', role: 'log',
    'aria-label': 'Messages' });
  const alert = el('p', { class: 'alert', role: 'alert' });
  const input = el('textarea', { 'aria-label': 'Message', rows: '2',
    placeholder: 'Message (Enter sends, Shift+Enter adds a line)' });
  const sendBtn = el('button', { type: 'submit', class: 'primary' }, 'Send');
  const stopBtn = el('button', { type: 'button', hidden: true }, 'Stop');
  const composer = el('form', { class: 'composer' }, input, stopBtn, sendBtn);
  const view = el('div', { class: 'chat' },
    el('div', { class: 'chat-bar' }, title, model, promptBtn),
    log, alert, composer);
  root.append(view);

  function showError(text) {
    alert.textContent = text || '';
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < STICK_PX;
  }

  function toBottom() {
    log.scrollTop = log.scrollHeight;
    stick = true;
  }

  /* ---------------------------------------------------------- messages */

  function stateOf(m) {
    return STATES[m.status] || STATES.complete;
  }

  function setStreaming(id) {
    streamingId = id;
    stopBtn.hidden = !id;
    log.setAttribute('aria-busy', id ? 'true' : 'false');
  }

  // The line of actions under a message: branch arrows, then the role's.
  function actionsOf(rec) {
    const m = rec.m;
    const bar = el('div', { class: 'msg-actions' });
    const sibs = m.sibling_ids || [m.id];
    if (sibs.length > 1) {
      const i = sibs.indexOf(m.id);
      bar.append(el('span', { class: 'branch' },
        el('button', { type: 'button', class: 'icon',
          'aria-label': 'Previous branch', disabled: i <= 0,
          onclick: () => switchBranch(sibs[i - 1]) }, '‹'),
        el('span', {}, `${i + 1}/${sibs.length}`),
        el('button', { type: 'button', class: 'icon',
          'aria-label': 'Next branch', disabled: i >= sibs.length - 1,
          onclick: () => switchBranch(sibs[i + 1]) }, '›')));
    }
    if (m.role === 'user') {
      bar.append(el('button', { type: 'button',
        onclick: () => edit(rec) }, 'Edit'));
    } else if (m.status !== 'streaming') {
      bar.append(
        el('button', { type: 'button', onclick: () => regenerate(m) },
          'Regenerate'),
        el('button', { type: 'button', onclick: async (ev) => {
          const b = ev.currentTarget;
          b.textContent = (await copyText(rec.m.content)) ? 'Copied' : 'Copy failed';
          setTimeout(() => { b.textContent = 'Copy'; }, 1500);
        } }, 'Copy'));
    }
    return bar;
  }

  // An answer being written is rendered piecewise (only its growing end
  // again), and so is its last form when it ends, which would otherwise
  // cost one long frame for a long answer; a reload renders it whole.
  function paintBody(rec) {
    if (rec.m.role === 'user') {
      rec.body.textContent = rec.m.content;
    } else if (rec.m.status === 'streaming' || rec.stream) {
      rec.stream = rec.stream || {};
      renderStreaming(rec.body, rec.m.content, rec.stream);
    } else {
      rec.stream = null;
      renderMarkdown(rec.body, rec.m.content);
    }
  }

  // Everything but the body, which paintBody does: cheap, so redone
  // whenever the message's status or branch changes.
  function paintFrame(rec) {
    const m = rec.m;
    const st = stateOf(m);
    rec.node.dataset.state = st.state;
    let note = st.note;
    if (note && m.error && m.error.message) note += `: ${m.error.message}`;
    else if (note && m.status !== 'stopped') note += '.';
    rec.status.textContent = note || '';
    rec.status.hidden = !note;
    rec.who.textContent = m.role === 'user' ? 'You' :
      (m.model ? `Assistant (${m.model})` : 'Assistant');
    rec.actions.replaceWith(rec.actions = actionsOf(rec));
  }

  function build(m) {
    const rec = { m };
    rec.who = el('p', { class: 'who' });
    rec.body = el('div', { class: m.role === 'user' ? 'body' : 'body md' });
    rec.status = el('p', { class: 'status' });
    rec.actions = el('div');
    rec.node = el('article', { 'data-role': m.role, 'data-id': m.id },
      rec.who, rec.body, rec.status, rec.actions);
    paintFrame(rec);
    paintBody(rec);
    byId.set(m.id, rec);
    return rec;
  }

  // The frame's re-render, measured as "chat:render" (the benchmark and
  // the browser tests read it with performance.getEntriesByName).
  function flush() {
    frame = 0;
    const t0 = performance.now();
    for (const id of dirty) {
      const rec = byId.get(id);
      if (rec) paintBody(rec);
    }
    dirty.clear();
    if (stick) toBottom();
    performance.measure('chat:render', { start: t0 });
  }

  function schedule(id) {
    dirty.add(id);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  // Shows the page's messages (root first) in place of all.
  function showAll(list) {
    msgs.length = 0;
    byId.clear();
    log.replaceChildren();
    appendMessages(list);
    const s = msgs.find((m) => m.status === 'streaming');
    setStreaming(s ? s.id : null);
    if (msgs.length === 0) {
      log.append(el('p', { class: 'empty-chat' },
        'Ask anything. Enter sends, Shift+Enter adds a line.'));
    }
    toBottom();
  }

  function appendMessages(list) {
    const empty = log.querySelector('.empty-chat');
    if (empty) empty.remove();
    for (let m of list) {
      const seen = m.status === 'streaming' && streams.get(m.id);
      if (seen && seen.whole) m = { ...m, content: seen.text };
      msgs.push(m);
      log.append(build(m).node);
    }
  }

  // Drops the messages after index i (a new branch replaces them).
  function truncateAfter(i) {
    for (const m of msgs.splice(i + 1)) {
      const rec = byId.get(m.id);
      if (rec) rec.node.remove();
      byId.delete(m.id);
      dirty.delete(m.id);
    }
  }

  function indexOf(id) {
    return msgs.findIndex((m) => m.id === id);
  }

  // The sibling ids of a new child of parentId: the siblings of the one
  // it replaces at that place, plus itself.
  function siblingsFor(parentId, newId, replaced) {
    const old = replaced && replaced.parent_id === parentId ?
      (replaced.sibling_ids || [replaced.id]) : [];
    return old.includes(newId) ? old : [...old, newId];
  }

  // A message arriving live: placed after its parent, replacing the rest
  // of the branch (a new question, an edit, or the question being
  // answered again by a regeneration).
  function place(m) {
    const at = indexOf(m.id);
    if (at >= 0) {
      // the question answered again: its old answer stays in view until
      // the new one (its sibling) arrives and takes its place
      answering = m.id;
      return true;
    }
    const p = m.parent_id === null ? -1 : indexOf(m.parent_id);
    if (p < 0 && m.parent_id !== null) return false;
    const replaced = msgs[p + 1];
    if (m.role === 'user') answering = null;
    truncateAfter(p);
    appendMessages([{ ...m, sibling_ids: siblingsFor(m.parent_id, m.id, replaced) }]);
    if (stick) toBottom();
    return true;
  }

  function update(m) {
    const rec = byId.get(m.id);
    if (!rec) return false;
    rec.m = { ...rec.m, ...m, sibling_ids: rec.m.sibling_ids };
    const i = indexOf(m.id);
    if (i >= 0) msgs[i] = rec.m;
    // The end of an answer (or any change of its state) and its text show
    // in the same task: a state "done" beside the text of a frame ago
    // would show an answer without its last words, for a frame.
    dirty.delete(m.id);
    paintFrame(rec);
    paintBody(rec);
    if (stick) toBottom();
    return true;
  }

  /* ------------------------------------------------------------ loading */

  function showConversation(c) {
    conv = c;
    title.textContent = untitled(c);
    document.title = `${untitled(c)} · Chat`;
    if (c.model && ![...model.options].some((o) => o.value === c.model)) {
      model.append(el('option', { value: c.model }, c.model));
    }
    model.value = c.model || '';
  }

  // showNewest(keepView): reads the conversation's newest page and shows
  // it, the events that come meanwhile held back and replayed on it; with
  // keepView the view stays where a reader who scrolled up put it.  False
  // when the pane went away meanwhile; throws what api.get throws.
  async function showNewest(keepView) {
    held = [];
    const issued = performance.now();
    const c = await api.get(`/v1/conversations/${convId}?messages=${PAGE}`);
    if (!alive) return false;
    showConversation(c);
    before = c.messages_before || null;
    const follow = !keepView || stick;
    const top = log.scrollTop;
    showLoaded(c.messages, issued);
    if (!follow) log.scrollTop = top;
    return true;
  }

  async function load() {
    if (!convId) {
      showAll([]);
      document.title = 'Chat';
      input.focus();
      return;
    }
    try {
      if (!(await showNewest(false))) return;
      input.focus();
      fillUp();
    } catch (e) {
      if (!alive) return;
      replay(new Set());
      if (e.status === 404) {
        showError('This conversation does not exist (or was deleted).');
      } else {
        showError(`Could not load the conversation: ${e.message}`);
      }
    }
  }

  // The stored text of a streaming answer is up to 250 ms behind the
  // socket. When the socket saw the whole answer, appendMessages takes
  // its text. Else, read at least FRESH_MS after the socket opened, the
  // stored text reaches past the socket's first piece of the answer: the
  // longest run of the socket's pieces that ends it is dropped and the
  // rest appended. Read earlier, there may be a gap between the two:
  // the stored text is shown alone (a prefix) and read again once fresh.
  function joinHeld(m, frames, used, fresh) {
    for (const f of frames) {
      if (f.type === 'delta' && f.data.message_id === m.id) used.add(f);
    }
    const seen = streams.get(m.id);
    if (seen && seen.whole) return m;
    if (!fresh) return { ...m, uncertain: true };
    const pieces = seen ? seen.pieces : [];
    let k = pieces.length;
    while (k > 0 && !m.content.endsWith(pieces.slice(0, k).join(''))) k--;
    return { ...m, content: m.content + pieces.slice(k).join('') };
  }

  // Since when the socket's pieces are all in streams, or null.
  function since() {
    const opened = live.openedAt();
    return opened === null ? null : Math.max(opened, listening);
  }

  // Reads the branch again once the socket's pieces have been kept for
  // FRESH_MS.
  function refetchWhenFresh() {
    const opened = since();
    if (opened === null) {
      const off = live.on('status', (f) => {
        if (!f.data.connected) return;
        off();
        refetchWhenFresh();
      });
      offs.push(off);
      return;
    }
    setTimeout(() => { if (alive) reloadSoon(); },
      Math.max(0, opened + FRESH_MS - performance.now()) + 10);
  }

  // Shows a branch just read (asked at `issued`), then the frames held
  // meanwhile.
  function showLoaded(list, issued) {
    const frames = held || [];
    const used = new Set();
    const opened = since();
    const fresh = opened !== null && issued - opened >= FRESH_MS;
    const shown = list.map((m) => (m.status === 'streaming' ?
      joinHeld(m, frames, used, fresh) : m));
    showAll(shown);
    replay(used);
    if (shown.some((m) => m.uncertain)) refetchWhenFresh();
  }

  // Hands the held frames to their handlers, but those already in the
  // branch shown: the question of a message frame (placing it again would
  // cut its answer off) and the pieces joinHeld took.
  function replay(used) {
    const frames = held || [];
    held = null;
    for (const f of frames) {
      if (used.has(f)) continue;
      if (f.type === 'message' && byId.has(f.data.id)) continue;
      handlers[f.type](f);
    }
  }

  async function loadOlder() {
    if (!before || loadingOlder || !convId) return;
    loadingOlder = true;
    const id = convId;
    try {
      const page = await api.get(
        `/v1/conversations/${id}/branch?before=${before}&limit=${PAGE}`);
      if (!alive || id !== convId) return;
      const h = log.scrollHeight;
      const first = log.firstChild;
      const known = new Set(msgs.map((m) => m.id));
      const older = page.messages.filter((m) => !known.has(m.id));
      for (const m of older) log.insertBefore(build(m).node, first);
      msgs.unshift(...older);
      before = page.messages_before || null;
      // keep what the reader was looking at in place
      log.scrollTop += log.scrollHeight - h;
    } catch (e) {
      showError(`Could not load earlier messages: ${e.message}`);
    } finally {
      loadingOlder = false;
    }
    fillUp();
  }

  // While the log cannot scroll yet, keep loading older pages.
  function fillUp() {
    if (before && log.scrollHeight <= log.clientHeight) loadOlder();
  }

  async function loadModels() {
    try {
      const res = await api.get('/v1/models');
      if (!alive) return;
      const have = new Set([...model.options].map((o) => o.value));
      for (const m of res.data || []) {
        if (!have.has(m.id)) model.append(el('option', { value: m.id }, m.id));
      }
      model.value = conv ? conv.model || '' : pendingModel || '';
    } catch {
      // the list stays "Default model"; sending still works
    }
  }

  /* ------------------------------------------------------------ actions */

  function announce(c) {
    window.dispatchEvent(new CustomEvent('chat:conversation', { detail: c }));
  }

  async function ensureConversation() {
    if (convId) return convId;
    const body = {};
    if (pendingModel) body.model = pendingModel;
    if (pendingPrompt) body.system_prompt = pendingPrompt;
    const c = await api.post('/v1/conversations', body);
    convId = c.id;
    showConversation(c);
    announce(c);
    history.pushState(null, '', `/c/${c.id}`);
    window.dispatchEvent(new CustomEvent('chat:route',
      { detail: { path: location.pathname, params: { id: c.id } } }));
    return convId;
  }

  // Runs a request that starts a generation. It answers when the answer
  // is over; the WebSocket shows it meanwhile. Its result fills in what
  // the socket did not bring (the socket may be down).
  async function generate(path, body) {
    showError('');
    sending = true;
    sendBtn.disabled = true;
    try {
      const res = await api.post(path, body);
      if (!alive) return;
      if (res && res.user_message && !byId.has(res.user_message.id)) {
        place(res.user_message);
      }
      if (res && res.assistant_message) {
        if (!update(res.assistant_message)) place(res.assistant_message);
        if (streamingId === res.assistant_message.id) setStreaming(null);
      }
    } catch (e) {
      if (!alive) return;
      if (e.code === 'upstream_error' || e.status === 502) {
        // the error event or a reload shows the failed answer
        await reloadSoon();
      } else {
        showError(e.code === 'generation_in_progress' ?
          'An answer is still being written: stop it or wait.' :
          `Could not send: ${e.message}`);
        throw e;
      }
    } finally {
      sending = false;
      sendBtn.disabled = false;
    }
  }

  async function reloadSoon() {
    if (!convId || held) return;
    try {
      await showNewest(true);
    } catch {
      // the next event or reload tries again
      if (alive) replay(new Set());
    }
  }

  async function send() {
    const text = input.value;
    if (!text.trim() || sending) return;
    if (streamingId) {
      showError('An answer is still being written: stop it or wait.');
      return;
    }
    input.value = '';
    try {
      const id = await ensureConversation();
      const body = { content: text };
      const last = msgs[msgs.length - 1];
      if (last) body.parent_id = last.id;
      await generate(`/v1/conversations/${id}/messages`, body);
    } catch (e) {
      if (!input.value) input.value = text;
      if (!alert.textContent) showError(`Could not send: ${e.message}`);
    }
  }

  async function stop() {
    if (!convId || !streamingId) return;
    try {
      await api.post(`/v1/conversations/${convId}/stop`);
    } catch (e) {
      showError(`Could not stop: ${e.message}`);
    }
  }

  function regenerate(m) {
    if (streamingId) return;
    const body = {};
    if (model.value) body.model = model.value;
    generate(`/v1/conversations/${convId}/messages/${m.id}/regenerate`, body)
      .catch(() => {});
  }

  function edit(rec) {
    if (rec.editor) return;
    const area = el('textarea', { 'aria-label': 'Edit message', rows: '3' });
    area.value = rec.m.content;
    const close = () => {
      rec.editor.replaceWith(rec.body);
      rec.editor = null;
    };
    const form = el('form', { class: 'editor' }, area,
      el('div', { class: 'actions' },
        el('button', { type: 'submit', class: 'primary' }, 'Send'),
        el('button', { type: 'button', onclick: close }, 'Cancel')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!area.value.trim() || streamingId) return;
      const content = area.value;
      close();
      // a new sibling of the edited question: a new branch
      generate(`/v1/conversations/${convId}/messages`,
        { content, parent_id: rec.m.parent_id }).catch(() => {});
    });
    area.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        close();
      }
    });
    rec.editor = form;
    rec.body.replaceWith(form);
    area.focus();
  }

  async function switchBranch(id) {
    if (!convId || streamingId) return;
    try {
      const c = await api.patch(`/v1/conversations/${convId}`,
        { current_leaf_id: id });
      if (!alive) return;
      showConversation(c);
      const page = await api.get(`/v1/conversations/${convId}?messages=${PAGE}`);
      if (!alive) return;
      before = page.messages_before || null;
      const top = log.scrollTop;
      showAll(page.messages);
      log.scrollTop = top;
      const rec = byId.get(id);
      const b = rec && rec.node.querySelector('.branch button:not([disabled])');
      if (b) b.focus();
    } catch (e) {
      showError(`Could not switch branch: ${e.message}`);
    }
  }

  async function patchConv(fields) {
    if (!convId) return;
    try {
      const c = await api.patch(`/v1/conversations/${convId}`, fields);
      if (alive) showConversation(c);
      announce(c);
    } catch (e) {
      showError(`Could not save: ${e.message}`);
    }
  }

  function systemPromptDialog() {
    modal('System prompt', (d) => {
      const area = el('textarea', { id: 'sysprompt', rows: '8' });
      area.value = conv ? conv.system_prompt || '' : pendingPrompt || '';
      const form = el('form', { method: 'dialog', class: 'stack' },
        el('h2', {}, 'System prompt'),
        el('label', { for: 'sysprompt' }, 'System prompt'), area,
        el('p', { class: 'hint' },
          'Empty: your default system prompt from the settings applies.'),
        el('div', { class: 'actions' },
          el('button', { type: 'submit', class: 'primary' }, 'Save'),
          el('button', { type: 'button', onclick: () => d.close() }, 'Cancel')));
      form.addEventListener('submit', () => {
        const v = area.value.trim() ? area.value : null;
        if (convId) patchConv({ system_prompt: v });
        else pendingPrompt = v;
      });
      d.append(form);
      return area;
    });
  }

  /* --------------------------------------------------------- live feed */

  const handlers = {
    message(f) {
      if (f.conversation_id !== convId) return;
      if (!place(f.data)) reloadSoon();
      else if (stick) toBottom();
    },
    delta(f) {
      if (f.conversation_id !== convId) return;
      const { message_id: id, text } = f.data;
      let rec = byId.get(id);
      if (!rec) {
        // the first piece of a new answer here: a child of the question
        // being answered again, else of the last message. When the socket saw the answer from its start,
        // appendMessages takes its text (this piece included); else the
        // text starts with this piece.
        const last = msgs[msgs.length - 1] || null;
        const parent = answering && byId.has(answering) ? answering :
          (last ? last.id : null);
        answering = null;
        place({ id, conversation_id: convId, parent_id: parent,
          role: 'assistant', content: '', model: model.value || null,
          status: 'streaming', error: null, usage: null });
        rec = byId.get(id);
        if (!rec) return;
        if (!rec.m.content) rec.m.content = text;
      } else if (rec.m.status === 'streaming' && !rec.m.uncertain) {
        rec.m.content += text;
      } else {
        return;
      }
      setStreaming(id);
      schedule(id);
    },
    done(f) {
      if (f.conversation_id !== convId) return;
      if (!update(f.data)) place(f.data);
      if (streamingId === f.data.id) setStreaming(null);
    },
    error(f) {
      // a reply to a client frame carries no conversation
      if (f.conversation_id !== convId || !f.data || !f.data.message) return;
      const m = f.data.message;
      if (!m.error && f.data.error) m.error = f.data.error;
      if (!update(m)) place(m);
      if (streamingId === m.id) setStreaming(null);
    },
    conversation(f) {
      if (f.data.id !== convId) return;
      showConversation(f.data);
      const leaf = f.data.current_leaf_id;
      const i = leaf ? indexOf(leaf) : -1;
      // the branch was switched elsewhere to a message we show
      if (i >= 0 && i !== msgs.length - 1 && !streamingId) reloadSoon();
    },
    conversation_deleted(f) {
      if (f.data.id === convId) navigate('/');
    },
    reset() {
      reloadSoon();
    },
  };
  // While the branch is being read, its generation frames wait (see
  // showLoaded), so that none is applied to a view about to be replaced.
  const HELD = new Set(['message', 'delta', 'done', 'error']);
  const offs = Object.entries(handlers).map(([t, fn]) => live.on(t, (f) => {
    if (held && HELD.has(t) && f.conversation_id === convId) held.push(f);
    else fn(f);
  }));

  /* ---------------------------------------------------------- controls */

  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  stopBtn.addEventListener('click', stop);
  promptBtn.addEventListener('click', systemPromptDialog);
  model.addEventListener('change', () => {
    if (convId) patchConv({ model: model.value || null });
    else pendingModel = model.value || null;
  });
  log.addEventListener('scroll', () => {
    // the reader who scrolls up to read stops following the stream
    stick = nearBottom();
    if (log.scrollTop < NEAR_TOP_PX) loadOlder();
  });
  function onKey(ev) {
    if (ev.key === 'Escape' && streamingId &&
        !document.querySelector('dialog[open]')) {
      ev.preventDefault();
      stop();
    }
  }
  function onNew() {
    input.focus();
  }
  document.addEventListener('keydown', onKey);
  window.addEventListener('chat:new', onNew);

  load();
  loadModels();

  return () => {
    alive = false;
    if (frame) cancelAnimationFrame(frame);
    for (const off of offs) off();
    document.removeEventListener('keydown', onKey);
    window.removeEventListener('chat:new', onNew);
    view.remove();
  };
}
