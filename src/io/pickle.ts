// A minimal Python pickle virtual machine, enough for what torch.save writes (protocol 2 by
// default, up to 5 when asked). It never executes code: GLOBAL/STACK_GLOBAL yield a
// PyGlobal, and REDUCE/NEWOBJ hand the global and its arguments to a caller-supplied `construct`
// that knows the handful of classes a state_dict uses (OrderedDict, _rebuild_tensor_v2, ...).
// Anything else becomes an inert PyObject, so unexpected classes in a checkpoint fail only when
// (and if) their values are used.

export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`
  }
}

/** An object of a class the reader does not model; kept so the rest of the file still loads. */
export class PyObject {
  state: unknown = undefined
  constructor(
    readonly cls: PyGlobal,
    readonly args: unknown[]
  ) {}
}

export class PickleError extends Error {}

export interface PickleHooks {
  /** REDUCE / NEWOBJ: build an object from a global and its arguments. */
  construct?: (cls: PyGlobal, args: unknown[]) => unknown
  /** BINPERSID / PERSID: resolve a persistent id (torch: storages). */
  persistentLoad?: (pid: unknown) => unknown
}

const MARK = Symbol('mark')

/** Runs one pickle starting at `start`; returns the value and the offset just past STOP. */
export function unpickle(buf: Uint8Array, start = 0, hooks: PickleHooks = {}): {value: unknown; end: number} {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const stack: unknown[] = []
  const memo = new Map<number, unknown>()
  const text = new TextDecoder('utf-8')
  const latin1 = new TextDecoder('latin1')
  let pos = start

  const need = (n: number) => {
    if (pos + n > buf.length) throw new PickleError(`unexpected end of data at byte ${pos}`)
  }
  const u8 = () => {
    need(1)
    return buf[pos++]
  }
  const u16 = () => {
    need(2)
    const v = view.getUint16(pos, true)
    pos += 2
    return v
  }
  const u32 = () => {
    need(4)
    const v = view.getUint32(pos, true)
    pos += 4
    return v
  }
  const i32 = () => {
    need(4)
    const v = view.getInt32(pos, true)
    pos += 4
    return v
  }
  const u64 = () => {
    need(8)
    const v = Number(view.getBigUint64(pos, true))
    pos += 8
    return v
  }
  const bytes = (n: number) => {
    need(n)
    const b = buf.subarray(pos, pos + n)
    pos += n
    return b
  }
  const line = () => {
    const nl = buf.indexOf(0x0a, pos)
    if (nl < 0) throw new PickleError(`unterminated text argument at byte ${pos}`)
    const s = latin1.decode(buf.subarray(pos, nl))
    pos = nl + 1
    return s
  }
  const pop = () => {
    if (!stack.length) throw new PickleError(`stack underflow at byte ${pos}`)
    return stack.pop()
  }
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK)
    if (i < 0) throw new PickleError(`missing MARK at byte ${pos}`)
    const items = stack.slice(i + 1)
    stack.length = i
    return items
  }
  const top = () => stack[stack.length - 1]
  const construct = (cls: unknown, args: unknown[]) => {
    if (!(cls instanceof PyGlobal)) throw new PickleError(`REDUCE on a non-class value at byte ${pos}`)
    return hooks.construct?.(cls, args) ?? new PyObject(cls, args)
  }
  const setItems = (target: unknown, kv: unknown[]) => {
    if (target instanceof Map) for (let i = 0; i + 1 < kv.length; i += 2) target.set(kv[i], kv[i + 1])
    else if (target instanceof PyObject) {
      const state = target.state instanceof Map ? target.state : (target.state = new Map())
      for (let i = 0; i + 1 < kv.length; i += 2) state.set(kv[i], kv[i + 1])
    } else throw new PickleError(`SETITEM on a non-dict at byte ${pos}`)
  }
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0
    let v = 0n
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i])
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length)
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  }

  for (;;) {
    const op = u8()
    switch (op) {
      case 0x80:
        u8()
        break // PROTO
      case 0x95:
        u64()
        break // FRAME: framing is only a buffering hint
      case 0x2e:
        return {value: pop(), end: pos} // STOP
      case 0x28:
        stack.push(MARK)
        break // MARK
      case 0x30:
        pop()
        break // POP
      case 0x31:
        popMark()
        break // POP_MARK
      case 0x32:
        stack.push(top())
        break // DUP
      case 0x4e:
        stack.push(null)
        break // NONE
      case 0x88:
        stack.push(true)
        break // NEWTRUE
      case 0x89:
        stack.push(false)
        break // NEWFALSE
      case 0x4b:
        stack.push(u8())
        break // BININT1
      case 0x4d:
        stack.push(u16())
        break // BININT2
      case 0x4a:
        stack.push(i32())
        break // BININT
      case 0x8a:
        stack.push(longFromBytes(bytes(u8())))
        break // LONG1
      case 0x8b:
        stack.push(longFromBytes(bytes(u32())))
        break // LONG4
      case 0x49: {
        // INT (text); "00"/"01" are False/True in protocol 0
        const s = line()
        stack.push(s === '00' ? false : s === '01' ? true : Number(s))
        break
      }
      case 0x4c: {
        // LONG (text)
        const v = BigInt(line().replace(/L$/, ''))
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)
        break
      }
      case 0x47: {
        need(8)
        stack.push(view.getFloat64(pos, false))
        pos += 8
        break
      } // BINFLOAT (big-endian)
      case 0x46:
        stack.push(Number(line()))
        break // FLOAT (text)
      case 0x58:
        stack.push(text.decode(bytes(u32())))
        break // BINUNICODE
      case 0x8c:
        stack.push(text.decode(bytes(u8())))
        break // SHORT_BINUNICODE
      case 0x8d:
        stack.push(text.decode(bytes(u64())))
        break // BINUNICODE8
      case 0x56:
        stack.push(line())
        break // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x54:
        stack.push(latin1.decode(bytes(i32())))
        break // BINSTRING
      case 0x55:
        stack.push(latin1.decode(bytes(u8())))
        break // SHORT_BINSTRING
      case 0x53:
        stack.push(line().replace(/^(['"])(.*)\1$/, '$2'))
        break // STRING (text)
      case 0x42:
        stack.push(bytes(u32()).slice())
        break // BINBYTES
      case 0x43:
        stack.push(bytes(u8()).slice())
        break // SHORT_BINBYTES
      case 0x8e:
      case 0x96:
        stack.push(bytes(u64()).slice())
        break // BINBYTES8, BYTEARRAY8
      case 0x7d:
        stack.push(new Map())
        break // EMPTY_DICT
      case 0x5d:
        stack.push([])
        break // EMPTY_LIST
      case 0x29:
        stack.push([])
        break // EMPTY_TUPLE
      case 0x8f:
        stack.push(new Set())
        break // EMPTY_SET
      case 0x74:
        stack.push(popMark())
        break // TUPLE
      case 0x85:
        stack.push([pop()])
        break // TUPLE1
      case 0x86: {
        const b = pop()
        const a = pop()
        stack.push([a, b])
        break
      } // TUPLE2
      case 0x87: {
        const c = pop()
        const b = pop()
        const a = pop()
        stack.push([a, b, c])
        break
      } // TUPLE3
      case 0x6c:
        stack.push(popMark())
        break // LIST
      case 0x64: {
        const kv = popMark()
        const d = new Map()
        setItems(d, kv)
        stack.push(d)
        break
      } // DICT
      case 0x91:
        stack.push(new Set(popMark()))
        break // FROZENSET
      case 0x90: {
        const items = popMark()
        const s = top()
        if (s instanceof Set) items.forEach(v => s.add(v))
        break
      } // ADDITEMS
      case 0x61: {
        const v = pop()
        const l = top()
        if (!Array.isArray(l)) throw new PickleError(`APPEND to a non-list at byte ${pos}`)
        l.push(v)
        break
      }
      case 0x65: {
        const items = popMark()
        const l = top()
        if (!Array.isArray(l)) throw new PickleError(`APPENDS to a non-list at byte ${pos}`)
        l.push(...items)
        break
      }
      case 0x73: {
        const v = pop()
        const k = pop()
        setItems(top(), [k, v])
        break
      } // SETITEM
      case 0x75: {
        const kv = popMark()
        setItems(top(), kv)
        break
      } // SETITEMS
      case 0x63: {
        const module = line()
        const name = line()
        stack.push(new PyGlobal(module, name))
        break
      } // GLOBAL
      case 0x93: {
        const name = pop()
        const module = pop()
        stack.push(new PyGlobal(String(module), String(name)))
        break
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop()
        const cls = pop()
        stack.push(construct(cls, args as unknown[]))
        break
      } // REDUCE
      case 0x81: {
        const args = pop()
        const cls = pop()
        stack.push(construct(cls, args as unknown[]))
        break
      } // NEWOBJ
      case 0x92: {
        pop()
        const args = pop()
        const cls = pop()
        stack.push(construct(cls, args as unknown[]))
        break
      } // NEWOBJ_EX (kwargs ignored)
      case 0x62: {
        // BUILD: __setstate__; state of modelled objects (OrderedDict._metadata) is not needed
        const state = pop()
        const obj = top()
        if (obj instanceof PyObject) obj.state = state
        break
      }
      case 0x71:
        memo.set(u8(), top())
        break // BINPUT
      case 0x72:
        memo.set(u32(), top())
        break // LONG_BINPUT
      case 0x70:
        memo.set(Number(line()), top())
        break // PUT
      case 0x94:
        memo.set(memo.size, top())
        break // MEMOIZE
      case 0x68:
      case 0x6a:
      case 0x67: {
        // BINGET, LONG_BINGET, GET
        const key = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line())
        if (!memo.has(key)) throw new PickleError(`memo key ${key} missing at byte ${pos}`)
        stack.push(memo.get(key))
        break
      }
      case 0x51:
        stack.push(hooks.persistentLoad ? hooks.persistentLoad(pop()) : pop())
        break // BINPERSID
      case 0x50: {
        const pid = line()
        stack.push(hooks.persistentLoad ? hooks.persistentLoad(pid) : pid)
        break
      } // PERSID
      default:
        throw new PickleError(`unsupported pickle opcode 0x${op.toString(16)} at byte ${pos - 1}`)
    }
  }
}
