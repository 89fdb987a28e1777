/** cdk-nag (AWS Solutions) on the CDK app: its unacknowledged findings, the acknowledgements, and an audit of what it checks. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type App, type Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, type IApplyRule, NagRuleCompliance, type NagRuleResult } from 'cdk-nag';

/** Runs the app's validation (cdk-nag) and returns its unacknowledged findings as `rule @ construct path`. */
export function nagFindings(app: App): string[] {
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  const reportPath = join(app.outdir, 'validation-report.json');
  let report: { pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[] }[] };
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
  } catch {
    // No report means the synth failed before validation: that is a failure of its own.
    throw error ?? new Error(`no validation report at ${reportPath}`);
  }
  const findings = report.pluginReports
    .filter((p) => p.pluginName === 'AwsSolutions')
    .flatMap((p) => p.violations.flatMap((v) => (v.violatingConstructs ?? []).map((c) => `${v.ruleName} @ ${c.constructPath}`)));
  if (error && findings.length === 0) throw error;
  return findings;
}

/** The findings acknowledged in the tree, from the metadata `Validations.of(c).acknowledge()` writes. */
export function acknowledgements(scope: Stack): { path: string; id: string; reason: string }[] {
  const acks: { path: string; id: string; reason: string }[] = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        acks.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return acks;
}

/** The AWS Solutions pack, recording what it checks: every rule, the rules that apply here, every finding. */
export class AuditedAwsSolutionsChecks extends AwsSolutionsChecks {
  readonly rules = new Set<string>();
  readonly applicable = new Set<string>();
  readonly resources = new Set<string>();
  readonly findings: { id: string; path: string }[] = [];

  protected override applyRule(params: IApplyRule): void {
    const suffix = params.ruleSuffixOverride ?? params.rule.name;
    const ruleId = `${this.readPackName}-${suffix}`;
    this.rules.add(ruleId);
    this.resources.add(params.node.node.path);
    const check = params.rule;
    super.applyRule({
      ...params,
      ruleSuffixOverride: suffix,
      rule: (node) => {
        let result: NagRuleResult;
        try {
          result = check(node);
        } catch (e) {
          this.findings.push({ id: ruleId, path: node.node.path });
          throw e;
        }
        if (result !== NagRuleCompliance.NOT_APPLICABLE) this.applicable.add(ruleId);
        if (result === NagRuleCompliance.NON_COMPLIANT) this.findings.push({ id: ruleId, path: node.node.path });
        if (Array.isArray(result)) for (const f of result) this.findings.push({ id: `${ruleId}[${f}]`, path: node.node.path });
        return result;
      },
    });
  }
}
