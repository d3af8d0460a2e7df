// Re-measures the style swap (src/stages/visual/style-swap.ts) of a finished train-visual run on
// its held-out split, e.g. after a change to the measurement:
//   node --import tsx scripts/style-swap-measure.ts configs/demo.yaml runs/demo
import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import {SDNet} from '../src/models/sdnet/model.js'
import {readSafetensors} from '../src/io/safetensors.js'
import {loadVisualData} from '../src/stages/visual/load.js'
import {indicesOf} from '../src/stages/visual/data.js'
import {measureStyleSwap} from '../src/stages/visual/style-swap.js'
import {visualModelConfig} from '../src/stages/train-visual.js'

const [configFile, runDir] = process.argv.slice(2)
process.env.MEDGEN_QUIET = '1'
await initBackend('wasm')
const config = loadConfig({file: configFile, sets: [`run.dir=${runDir}`]})
const modelConfig = visualModelConfig(config)
const model = SDNet.create(modelConfig, 0)
const path = `${runDir}/visual/model.safetensors`
model.loadStateDict(await readSafetensors(path), path)
const data = await loadVisualData(config, runDir, modelConfig.imageSize)
const heldOut = indicesOf(data, 'test').length ? indicesOf(data, 'test') : indicesOf(data, 'val')
console.log(JSON.stringify(await measureStyleSwap(model, data, heldOut, 8)))
