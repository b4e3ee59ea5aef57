import fs from 'node:fs/promises';
import { BenchCluster } from './processes.ts';
const root = await fs.mkdtemp('/tmp/repro-');
const c = new BenchCluster(root);
await c.start();
const s = await c.startAgent('s'); const d = await c.startAgent('d');
await fs.mkdir(`${root}/src/docs/empty-dir`, {recursive: true}); await fs.mkdir(`${root}/dst`);
await fs.writeFile(`${root}/src/docs/report #1.md`, 'x'.repeat(5000)); await fs.writeFile(`${root}/src/a b.txt`, 'hello');
await c.cliJson(['sync','add','--resource',String(s.resourceId),'--name','x','--path',`${root}/src`,'--dest',`${d.resourceId}=${root}/dst`]);
await new Promise(r=>setTimeout(r,1500));
for (let i = 0; i < 5; i++) {
  await fs.writeFile(`${root}/src/a b.txt`, 'hello again' + i);
  await fs.rename(`${root}/src/${i % 2 ? 'papers' : 'docs'}`, `${root}/src/${i % 2 ? 'docs' : 'papers'}`);
  await new Promise(r=>setTimeout(r,1500));
  const got = (await fs.readdir(`${root}/dst`)).sort().join(','); const want = (await fs.readdir(`${root}/src`)).sort().join(',');
  console.log(i, got === want ? 'OK' : `MISMATCH got ${got} want ${want}`);
}
await c.stop();
console.log(root);
