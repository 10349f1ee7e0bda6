#!/usr/bin/env node
/*
 * ws_peer.js: Node's `ws` as a benchmark peer (issue 20), speaking what
 * bench/loadgen.c expects, like bench/rawserver.c: the handshake on
 * /ws/game/<CODE>/ (no token check), a welcome, the game's stored
 * session.state, then numbered event frames.
 *
 *   node bench/peers/ws_peer.js --port P --redis-port R [--prefix asgi]
 *        [--shm FILE] [--ping SECONDS]
 *
 * Events come two ways:
 *
 *  - From Redis, exactly as the sidecar gets them: the process owns one
 *    channels_redis process channel (`specific.<id>!`), puts
 *    `specific.<id>!g.game_<CODE>` into the group's sorted set
 *    (`<prefix>:group:game_<CODE>`) when its first socket of that game
 *    opens, and pops `<prefix>specific.<id>!` with BZPOPMIN and, pipelined
 *    behind it, a ZPOPMIN of up to 63 more, as the sidecar does; each message
 *    (12 random bytes + a msgpack map, channels_redis' storage format,
 *    written by the same Lua script the broadcaster runs for every peer)
 *    is decoded once and its "text" sent to the local sockets of every
 *    group in `__asgi_channel__`.
 *  - In process (stdin `run`), no Redis: the peer's best case, the same
 *    command as rawserver's (see there): COUNT RATE WINDOW GAME PAYLOAD
 *    SEED, closed loop on the load generator's progress page when RATE is
 *    0, answering {"ev":"done",...}.
 *
 * stdin also takes `stats` and `quit`. The send path is ws' documented
 * broadcast: the frame text turned into a Buffer once per event, then
 * `client.send(buf, {binary: false})` for every socket of the game.
 */
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const readline = require('readline');

const { decode } = require('@msgpack/msgpack');
const Redis = require('ioredis');
const { WebSocketServer } = require('ws');

const RANDOM_PREFIX_LEN = 12;   /* channels_redis' random member prefix */
const RECEIVE_TIMEOUT_S = 5;
const RX_BATCH = 64;           /* messages per receive round trip (PH_RX_BATCH) */
const GROUP_EXPIRY_S = 86400;
const PROGRESS_MAGIC = 0x50484231n;
const STALL_NS = 5000000000n;

function parseArgs(argv) {
    const opts = { port: 0, redisPort: 0, prefix: 'asgi', shm: '', ping: 20 };
    for (let i = 2; i + 1 < argv.length; i += 2) {
        const v = argv[i + 1];
        switch (argv[i]) {
        case '--port': opts.port = Number(v); break;
        case '--redis-port': opts.redisPort = Number(v); break;
        case '--prefix': opts.prefix = v; break;
        case '--shm': opts.shm = v; break;
        case '--ping': opts.ping = Number(v); break;
        default:
            process.stderr.write(`unknown option ${argv[i]}\n`);
            process.exit(2);
        }
    }
    return opts;
}

const opts = parseArgs(process.argv);
const chanPrefix = `specific.${crypto.randomBytes(8).toString('hex')}!`;
const rxKey = `${opts.prefix}${chanPrefix}`;  /* channels_redis: prefix + name, no colon */
const groups = new Map();      /* "game_<CODE>" -> Set of sockets */
const seqs = new Map();        /* in-process runs: game -> last seq */
let open = 0;
let nextId = 0;

const cmd = opts.redisPort ? new Redis(opts.redisPort, '127.0.0.1') : null;
const rx = opts.redisPort ? new Redis(opts.redisPort, '127.0.0.1') : null;

function out(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function groupKey(group) {
    return `${opts.prefix}:group:${group}`;
}

/* The socket joins its game: the first one puts our channel in Redis. */
function join(ws, group) {
    let set = groups.get(group);
    if (set === undefined) {
        set = new Set();
        groups.set(group, set);
        if (cmd !== null) {
            const key = groupKey(group);
            cmd.zadd(key, Date.now() / 1000, `${chanPrefix}g.${group}`);
            cmd.expire(key, GROUP_EXPIRY_S);
        }
    }
    set.add(ws);
    open++;
}

function leave(ws, group) {
    const set = groups.get(group);
    if (set === undefined || !set.delete(ws)) {
        return;
    }
    open--;
    if (set.size === 0) {
        groups.delete(group);
        if (cmd !== null) {
            cmd.zrem(groupKey(group), `${chanPrefix}g.${group}`);
        }
    }
}

function sendToGroup(group, buf) {
    const set = groups.get(group);
    if (set === undefined) {
        return 0;
    }
    for (const ws of set) {
        ws.send(buf, { binary: false });
    }
    return set.size;
}

async function greet(ws, code) {
    let state = '{"type":"session.state","seq":0,"payload":{}}';
    if (cmd !== null) {
        const stored = await cmd.get(`partyhub:state:${code}`);
        if (stored !== null) {
            state = stored;
        }
    }
    if (ws.readyState !== ws.OPEN) {
        return;
    }
    ws.send(`{"type":"welcome","connection_id":"ws${ws.id}","server_version":"ws",`
            + `"session":"${code}","role":"player","player_id":null}`);
    ws.send(state);
    join(ws, ws.group);
}

function dispatch(buf) {
    let msg;
    try {
        msg = decode(buf.subarray(RANDOM_PREFIX_LEN));
    } catch (err) {
        process.stderr.write(`undecodable channel-layer message: ${err}\n`);
        return;
    }
    if (msg === null || typeof msg !== 'object' || typeof msg.text !== 'string') {
        return;
    }
    const text = Buffer.from(msg.text);
    let chans = msg.__asgi_channel__;
    if (typeof chans === 'string') {
        chans = [chans];
    }
    if (!Array.isArray(chans)) {
        return;
    }
    const mine = chanPrefix + 'g.';
    for (const ch of chans) {
        if (typeof ch === 'string' && ch.startsWith(mine)) {
            sendToGroup(ch.slice(mine.length), text);
        }
    }
}

async function receiveLoop() {
    for (;;) {
        let replies;
        try {
            /* As the sidecar: a ZPOPMIN of the rest pipelined behind the
             * blocking pop, one round trip per RX_BATCH messages. */
            replies = await rx.pipeline()
                .bzpopminBuffer(rxKey, RECEIVE_TIMEOUT_S)
                .zpopminBuffer(rxKey, RX_BATCH - 1)
                .exec();
        } catch (err) {
            replies = [[err]];
        }
        const [[err1, first], [err2, rest] = [null, null]] = replies;
        if (err1 || err2) {
            process.stderr.write(`BZPOPMIN/ZPOPMIN: ${err1 || err2}\n`);
            await new Promise((r) => setTimeout(r, 100));
            continue;
        }
        if (first !== null) {
            dispatch(first[1]);
        }
        for (let i = 0; rest && i + 1 < rest.length; i += 2) {
            dispatch(rest[i]);
        }
    }
}

/* ---- in-process runs (rawserver's `run`) ------------------------------ */

let progressFd = -1;
const progressBuf = Buffer.alloc(16);

function deliveries() {
    if (progressFd < 0) {
        return Infinity;
    }
    fs.readSync(progressFd, progressBuf, 0, 16, 0);
    if (progressBuf.readBigUInt64LE(0) !== PROGRESS_MAGIC) {
        return 0;
    }
    return Number(progressBuf.readBigUInt64LE(8));
}

function xorshift32(state) {
    let x = state.v;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    state.v = x;
    return x;
}

const yieldLoop = () => new Promise((r) => setImmediate(r));
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(count, rate, window, which, payload, seed) {
    const codes = [...groups.keys()];
    if (!(count >= 0 && window >= 1 && payload >= 0 && payload <= 4096)) {
        out({ ev: 'error', msg: 'bad run arguments' });
        return;
    }
    if (which !== '*' && !groups.has(`game_${which}`)) {
        out({ ev: 'error', msg: `unknown game ${which}` });
        return;
    }
    if (codes.length === 0) {
        out({ ev: 'error', msg: 'no games' });
        return;
    }
    const pad = 'x'.repeat(payload > 114 ? payload - 114 : 1);
    const rng = { v: (seed | 1) >>> 0 };
    const cum = [0];
    let stalls = 0;
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < count; k++) {
        const group = which === '*' ? codes[xorshift32(rng) % codes.length] : `game_${which}`;
        if (rate > 0) {
            const due = t0 + BigInt(Math.round((k * 1e9) / rate));
            for (let now = process.hrtime.bigint(); now < due; now = process.hrtime.bigint()) {
                const left = Number(due - now) / 1e6;
                await (left > 2 ? sleepMs(left - 1) : yieldLoop());
            }
        } else if (progressFd >= 0 && k >= window) {
            const need = cum[k - window + 1];
            const start = process.hrtime.bigint();
            while (deliveries() < need) {
                if (process.hrtime.bigint() - start > STALL_NS) {
                    stalls++;
                    break;
                }
                await yieldLoop();
            }
        }
        const seq = (seqs.get(group) || 0) + 1;
        seqs.set(group, seq);
        const t = process.hrtime.bigint();
        const text = `{"type":"phase.game_over","seq":${seq},"payload":{"t":${t},`
            + `"round":0,"ranking":[],"awards":[],"pad":"${pad}"}}`;
        cum.push(cum[k] + sendToGroup(group, Buffer.from(text)));
    }
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    out({
        ev: 'done', sent: count, frames: cum[count], dropped: 0, stalls,
        elapsed_s: elapsed, expected_deliveries: cum[count], frame_bytes: payload,
    });
}

/* ---- server ------------------------------------------------------------ */

const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false, clientTracking: false,
    maxPayload: 64 * 1024,
});
const server = http.createServer((req, res) => {
    res.writeHead(404, { 'Content-Length': '0' });
    res.end();
});
server.on('upgrade', (req, socket, head) => {
    const m = /^\/ws\/game\/([A-Za-z]{4})\//.exec(req.url || '');
    if (m === null) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
    }
    socket.setNoDelay(true);
    wss.handleUpgrade(req, socket, head, (ws) => {
        const code = m[1].toUpperCase();
        ws.id = nextId++;
        ws.group = `game_${code}`;
        ws.alive = true;
        ws.on('pong', () => { ws.alive = true; });
        ws.on('message', () => { ws.alive = true; });
        ws.on('close', () => leave(ws, ws.group));
        ws.on('error', () => {});
        greet(ws, code).catch((err) => {
            process.stderr.write(`greeting: ${err}\n`);
            ws.terminate();
        });
    });
});

/* Heartbeat: a PING every --ping seconds, a socket silent since the
 * previous one is dropped (ws' documented pattern). */
setInterval(() => {
    for (const set of groups.values()) {
        for (const ws of set) {
            if (!ws.alive) {
                ws.terminate();
                continue;
            }
            ws.alive = false;
            ws.ping();
        }
    }
}, opts.ping * 1000).unref();

let busy = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const [name, ...a] = line.trim().split(/\s+/);
    if (name === 'quit') {
        process.exit(0);
    } else if (name === 'run') {
        busy = busy.then(() => run(Number(a[0]), Number(a[1]), Number(a[2]), a[3] || '*',
                                    Number(a[4] || 200), Number(a[5] || 1)));
    } else if (name === 'stats') {
        out({ ev: 'stats', conns: open, games: groups.size });
    } else if (name) {
        out({ ev: 'error', msg: 'unknown command' });
    }
}).on('close', () => process.exit(0));

if (opts.shm) {
    progressFd = fs.openSync(opts.shm, 'r');
}
server.listen({ port: opts.port, host: '127.0.0.1', backlog: 4096 }, () => {
    out({ ev: 'hello', port: server.address().port, peer: 'ws', channel: chanPrefix });
    if (rx !== null) {
        receiveLoop();
    }
});
