import fs from 'node:fs/promises';
import { BenchCluster } from './processes.ts';
const root = await fs.mkdtemp('/tmp/repro-');
const c = new BenchCluster(root);
await c.start();
const s = await c.startAgent('s'); const d = await c.startAgent('d');
const hwm = async (pid: number) => /VmHWM:\s+(\d+)/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'))![1];
console.log('idle', await hwm(s.child.pid!), await hwm(d.child.pid!));
await fs.mkdir(`${root}/src`); await fs.mkdir(`${root}/dst`);
await c.cliJson(['sync','add','--resource',String(s.resourceId),'--name','x','--path',`${root}/src`,'--dest',`${d.resourceId}=${root}/dst`]);
await new Promise(r=>setTimeout(r,1500));
const buf = Buffer.alloc(100 << 20, 7);
await fs.writeFile(`${root}/big.bin`, buf);
await fs.rename(`${root}/big.bin`, `${root}/src/big.bin`);
for (let i = 0; i < 100; i++) { const st = await fs.stat(`${root}/dst/big.bin`).catch(() => null); if (st?.size === buf.length) break; await new Promise(r=>setTimeout(r,200)); }
console.log('after rename-in', await hwm(s.child.pid!), await hwm(d.child.pid!));
await c.stop();
await fs.rm(root, {recursive: true});
