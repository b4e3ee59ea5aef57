import { SyncctlError, notFound } from '../../src/protocol/errors.ts';
import {
  installerFileName,
  type Installer,
  type RegisterCompanyInput,
  type RegisterCompanyResult,
} from '../../src/protocol/company.ts';
import { generateToken, hashPassword, hashToken, nowIso } from './secrets.ts';
import type { ServiceDeps } from './service-deps.ts';

export function bucketName(companyId: number): string {
  return `syncctl-company-${companyId}`;
}

export function installerKey(companyId: number): string {
  return `installer/${installerFileName(companyId)}`;
}

/**
 * Registers a company with its first user, creates the company's bucket and writes the agent
 * installer into it. The enrollment secret exists in plain text only inside that installer.
 */
export async function registerCompany(deps: ServiceDeps, input: RegisterCompanyInput): Promise<RegisterCompanyResult> {
  const existing = await deps.db.selectFrom('users').select('id').where('email', '=', input.email).executeTakeFirst();
  if (existing) {
    throw new SyncctlError('conflict', `A user with email "${input.email}" already exists; use another email or log in`);
  }

  const secret = generateToken();
  const passwordHash = await hashPassword(input.password);
  const now = nowIso();

  const { companyId, userId } = await deps.db.transaction().execute(async (trx) => {
    const company = await trx
      .insertInto('companies')
      .values({ name: input.name, bucket: `pending-${generateToken()}`, enrollment_secret_hash: hashToken(secret), created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx.updateTable('companies').set({ bucket: bucketName(company.id) }).where('id', '=', company.id).execute();
    const user = await trx
      .insertInto('users')
      .values({ company_id: company.id, email: input.email, password_hash: passwordHash, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { companyId: company.id, userId: user.id };
  });

  const bucket = bucketName(companyId);
  await deps.store.createBucket(bucket);
  const installer: Installer = { companyId, coordinatorUrl: deps.publicUrl, enrollmentSecret: secret };
  await deps.store.putObject(bucket, installerKey(companyId), `${JSON.stringify(installer, null, 2)}\n`);

  deps.logger.info({ companyId, userId, bucket }, 'company registered');
  return { companyId, userId, bucket, installerKey: installerKey(companyId) };
}

export async function getCompany(deps: ServiceDeps, companyId: number) {
  const company = await deps.db.selectFrom('companies').selectAll().where('id', '=', companyId).executeTakeFirst();
  if (!company) throw notFound(`Company ${companyId} not found; check the id with your administrator`);
  return company;
}

/** Returns the installer file's name and content from the company's bucket. */
export async function getInstaller(deps: ServiceDeps, companyId: number): Promise<{ fileName: string; content: string }> {
  const company = await getCompany(deps, companyId);
  const body = await deps.store.getObject(company.bucket, installerKey(companyId));
  if (!body) throw notFound(`Installer of company ${companyId} not found in bucket "${company.bucket}"`);
  return { fileName: installerFileName(companyId), content: body.toString('utf8') };
}
