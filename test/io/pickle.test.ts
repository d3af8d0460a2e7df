// The pickle VM under src/io/torch.ts: the same object pickled by CPython with protocols 0-5
// (bytes below from pickle.dumps), plus damaged input.
import {expect} from 'chai'
import {unpickle, PyGlobal, PyObject, PickleError} from '../../src/io/pickle.js'

// collections.OrderedDict([('a', [1, -2, 300, -70000, 3.5, 'x\u00e9', None, True, False, (1, 2), (3,), (), 2**70, -2**40, b'by']),
//                          ('nested', {'k': [[], {}]})]), pickle.dumps(obj, protocol=p).hex()
const PICKLES: Record<number, string> = {
  0: '63636f6c6c656374696f6e730a4f726465726564446963740a70300a28745270310a56610a70320a286c70330a49310a61492d320a61493330300a61492d37303030300a6146332e350a615678e90a70340a614e614930310a614930300a612849310a49320a7470350a612849330a7470360a612874614c313138303539313632303731373431313330333432344c0a614c2d313039393531313632373737364c0a61635f636f646563730a656e636f64650a70370a285662790a70380a566c6174696e310a70390a747031300a527031310a6173566e65737465640a7031320a28647031330a566b0a7031340a286c7031350a286c7031360a6128647031370a6173732e',
  1: '63636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171025d7103284b014afeffffff4d2c014a90eefeff47400c000000000000580300000078c3a971044e4930310a4930300a284b014b02747105284b03747106294c313138303539313632303731373431313330333432344c0a4c2d313039393531313632373737364c0a635f636f646563730a656e636f64650a71072858020000006279710858060000006c6174696e31710974710a52710b6558060000006e6573746564710c7d710d58010000006b710e5d710f285d71107d71116573752e',
  2: '800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171025d7103284b014afeffffff4d2c014a90eefeff47400c000000000000580300000078c3a971044e88894b014b028671054b03857106298a090000000000000000408a060000000000ff635f636f646563730a656e636f64650a710758020000006279710858060000006c6174696e31710986710a52710b6558060000006e6573746564710c7d710d58010000006b710e5d710f285d71107d71116573752e',
  3: '800363636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006171025d7103284b014afeffffff4d2c014a90eefeff47400c000000000000580300000078c3a971044e88894b014b028671054b03857106298a090000000000000000408a060000000000ff4302627971076558060000006e657374656471087d710958010000006b710a5d710b285d710c7d710d6573752e',
  4: '80049588000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161945d94284b014afeffffff4d2c014a90eefeff47400c0000000000008c0378c3a9944e88894b014b0286944b038594298a090000000000000000408a060000000000ff4302627994658c066e6573746564947d948c016b945d94285d947d946573752e',
  5: '80059588000000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161945d94284b014afeffffff4d2c014a90eefeff47400c0000000000008c0378c3a9944e88894b014b0286944b038594298a090000000000000000408a060000000000ff4302627994658c066e6573746564947d948c016b945d94285d947d946573752e'
}

const construct = (cls: PyGlobal, args: unknown[]) => {
  if (cls.qualified === 'collections.OrderedDict') return new Map()
  // protocols < 3 pickle bytes as _codecs.encode(latin1 text, 'latin1')
  if (cls.qualified === '_codecs.encode') return Uint8Array.from(String(args[0]), c => c.charCodeAt(0))
  return undefined
}

describe('pickle VM', () => {
  for (const [protocol, hex] of Object.entries(PICKLES)) {
    it(`decodes CPython protocol ${protocol}`, () => {
      const bytes = Buffer.from(hex, 'hex')
      const {value, end} = unpickle(bytes, 0, {construct})
      expect(end).to.equal(bytes.length)
      expect(value).to.be.instanceOf(Map)
      const map = value as Map<string, unknown>
      const a = map.get('a') as unknown[]
      expect(a.slice(0, 12)).to.deep.equal([1, -2, 300, -70000, 3.5, 'x\u00e9', null, true, false, [1, 2], [3], []])
      expect(a[12]).to.equal(2n ** 70n)
      expect(a[13]).to.equal(-(2 ** 40))
      expect(Array.from(a[14] as Uint8Array)).to.deep.equal([0x62, 0x79])
      const nested = map.get('nested') as Map<string, unknown>
      expect(nested.get('k')).to.deep.equal([[], new Map()])
    })
  }

  it('unknown classes become inert PyObjects; truncated input and bad opcodes throw PickleError', () => {
    const bytes = Buffer.from(PICKLES[2], 'hex')
    const {value} = unpickle(bytes, 0)
    expect(value).to.be.instanceOf(PyObject)
    expect((value as PyObject).cls.qualified).to.equal('collections.OrderedDict')
    expect(() => unpickle(bytes.subarray(0, 40), 0, {construct})).to.throw(PickleError, /unexpected end of data/)
    expect(() => unpickle(Buffer.from([0x80, 0x02, 0xff]), 0)).to.throw(PickleError, /unsupported pickle opcode 0xff/)
    expect(() => unpickle(Buffer.from([0x80, 0x02, 0x68, 0x05]), 0)).to.throw(PickleError, /memo key 5 missing/)
  })
})
