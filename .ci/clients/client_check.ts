// The generated TypeScript types against a live service (.ci/clients/run starts it, generates
// schema.d.ts beside a copy of this file and compiles both with tsc --strict).
//
// Lists countries, creates a partner, patches one field of it with its ETag, follows a cursor,
// reads a country shaped by fields= and a 404 into ProblemDetails, through openapi-fetch typed by
// the types that openapi-typescript generated from openapi/openapi.json. Exits non-zero on any
// unexpected status or body.
//
//     BASE_URL=http://127.0.0.1:18282 TOKEN=... node client_check.js

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Country = components["schemas"]["Country"];
type Partner = components["schemas"]["Partner"];
type PartnerInput = components["schemas"]["PartnerInput"];
type PartnerPatch = components["schemas"]["PartnerPatch"];
type ProblemDetails = components["schemas"]["ProblemDetails"];

class CheckFailed extends Error {}

function expect(condition: boolean, what: string): asserts condition {
    if (!condition) throw new CheckFailed(what);
}

/** Fails unless the body has every property the schema requires (tsc cannot see the wire). */
function hasKeys(body: unknown, keys: readonly string[], step: string): void {
    expect(typeof body === "object" && body !== null, `${step}: the body is not an object: ${JSON.stringify(body)}`);
    const missing = keys.filter((key) => !(key in body));
    expect(missing.length === 0, `${step}: the body lacks ${missing.join(", ")}: ${JSON.stringify(body)}`);
}

/**
 * A record read without `fields=` or `include=` is the full record: checked here, since the
 * document types a read as the full or the shaped form (`Country | CountryShaped`).
 */
function full<T>(body: unknown, keys: readonly string[], step: string): T {
    hasKeys(body, keys, step);
    return body as T;
}

const countryKeys = ["code", "alpha3", "numeric", "name", "participant", "created_at", "updated_at", "version"] as const;
const partnerKeys = ["id", "name", "kind", "created_at", "updated_at", "version"] as const;
const problemKeys = ["type", "title", "status", "code", "detail", "errors"] as const;

function status(response: Response, expected: number, step: string, error: unknown): void {
    expect(response.status === expected, `${step}: expected ${expected}, got ${response.status}: ${JSON.stringify(error)}`);
}

async function main(): Promise<void> {
    const baseUrl = process.env.BASE_URL;
    const token = process.env.TOKEN;
    expect(baseUrl !== undefined && token !== undefined, "BASE_URL and TOKEN must be set");
    const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

    // 1. Countries, filtered: Kazakhstan is there, as a typed Country.
    {
        const { data, error, response } = await client.GET("/api/v1/countries", { params: { query: { q: "Kazakh" } } });
        status(response, 200, "list countries", error);
        expect(data !== undefined, "list countries: no body");
        const items = data.items.map((c) => full<Country>(c, countryKeys, "list countries"));
        const kz: Country | undefined = items[0];
        expect(
            data.items.length === 1 && kz !== undefined && kz.code === "KZ",
            `list countries q=Kazakh: expected KZ, got ${data.items.map((c) => c.code).join(", ")}`,
        );
        console.log(`countries: q=Kazakh -> ${kz.code} ${kz.name}`);
    }

    // 2. A partner, created from the typed input: 201, an ETag, version 1.
    const name = `Client check (TypeScript) ${crypto.randomUUID().slice(0, 12)}`;
    const input: PartnerInput = { name, kind: "national_ngo", country_code: "KZ", acronym: "TSC" };
    const created = await client.POST("/api/v1/partners", { body: input });
    status(created.response, 201, "create partner", created.error);
    expect(created.data !== undefined, "create partner: no body");
    hasKeys(created.data, partnerKeys, "create partner");
    const partner: Partner = created.data;
    const etag = created.response.headers.get("ETag");
    expect(etag === `"${partner.version}"`, `create partner: ETag ${etag}, version ${partner.version}`);
    expect(partner.name === name && partner.version === 1, `create partner: got ${JSON.stringify(partner)}`);
    console.log(`partner: created id ${partner.id}, ETag ${etag}`);

    // 3. A merge patch of one field, conditional on that ETag; the other fields stay.
    const patch: PartnerPatch = { acronym: "TSC2" };
    const patched = await client.PATCH("/api/v1/partners/{id}", {
        params: { path: { id: partner.id }, header: { "If-Match": etag } },
        body: patch,
        headers: { "Content-Type": "application/merge-patch+json" },
    });
    status(patched.response, 200, "patch partner", patched.error);
    expect(patched.data !== undefined, "patch partner: no body");
    hasKeys(patched.data, partnerKeys, "patch partner");
    const after: Partner = patched.data;
    expect(after.acronym === "TSC2", `patch partner: acronym is ${after.acronym}`);
    expect(
        after.name === name && after.kind === "national_ngo" && after.country_code === "KZ",
        `patch partner: other fields changed: ${JSON.stringify(after)}`,
    );
    expect(after.version === 2, `patch partner: version ${after.version}, expected 2`);
    const newEtag = patched.response.headers.get("ETag");
    expect(newEtag === '"2"', `patch partner: new ETag ${newEtag}`);
    const stale = await client.PATCH("/api/v1/partners/{id}", {
        params: { path: { id: partner.id }, header: { "If-Match": etag } },
        body: { acronym: "TSC3" },
    });
    status(stale.response, 412, "patch with a stale ETag", stale.error);
    expect(stale.error !== undefined, "patch with a stale ETag: no problem body");
    hasKeys(stale.error, problemKeys, "patch with a stale ETag");
    console.log(`partner: patched acronym, version ${after.version}, ETag ${newEtag}; stale ETag -> ${stale.error.code}`);

    // 4. A cursor, followed: the second page of two countries is not the first.
    {
        const first = await client.GET("/api/v1/countries", { params: { query: { limit: 2 } } });
        status(first.response, 200, "countries page 1", first.error);
        expect(first.data !== undefined, "countries page 1: no body");
        const cursor = first.data.next_cursor;
        expect(first.data.items.length === 2, `countries page 1: ${first.data.items.length} items`);
        expect(typeof cursor === "string", `countries page 1: next_cursor is ${cursor}`);
        const second = await client.GET("/api/v1/countries", { params: { query: { limit: 2, cursor } } });
        status(second.response, 200, "countries page 2", second.error);
        expect(second.data !== undefined, "countries page 2: no body");
        const codes1 = first.data.items.map((c) => c.code);
        const codes2 = second.data.items.map((c) => c.code);
        expect(
            codes2.length === 2 && !codes2.some((code) => codes1.includes(code)),
            `cursor: page 1 ${codes1.join(",")}, page 2 ${codes2.join(",")}`,
        );
        console.log(`cursor: page 1 ${codes1.join(",")}, page 2 ${codes2.join(",")}`);
    }

    // 5. A shaped read: `fields=name` gives the key and the name, with a weak ETag.
    {
        const { data, error, response } = await client.GET("/api/v1/countries/{code}", {
            params: { path: { code: "KZ" }, query: { fields: ["name"] } },
        });
        status(response, 200, "shaped read", error);
        expect(data !== undefined, "shaped read: no body");
        const keys = Object.keys(data).sort().join(",");
        expect(keys === "code,name" && data.name === "Kazakhstan", `shaped read: got ${JSON.stringify(data)}`);
        const tag = response.headers.get("ETag") ?? "";
        expect(tag.startsWith('W/"'), `shaped read: ETag ${tag} is not weak`);
        console.log(`shaped read: fields=name -> ${JSON.stringify(data)}, ETag ${tag}`);
    }

    // 6. A 404, read into the problem type.
    {
        const { data, error, response } = await client.GET("/api/v1/partners/{id}", {
            params: { path: { id: 999999999 } },
        });
        status(response, 404, "404", error);
        expect(data === undefined && error !== undefined, "404: no problem body");
        expect(
            response.headers.get("Content-Type") === "application/problem+json",
            `404: Content-Type ${response.headers.get("Content-Type")}`,
        );
        hasKeys(error, problemKeys, "404");
        const problem: ProblemDetails = error;
        expect(problem.code === "not_found" && problem.status === 404, `404: got ${JSON.stringify(problem)}`);
        console.log(`404: ${problem.code}: ${problem.detail}`);
    }
}

try {
    await main();
    console.log("client_check.ts: all six steps OK");
} catch (failure) {
    if (!(failure instanceof CheckFailed)) throw failure;
    console.error(`client_check.ts: FAILED: ${failure.message}`);
    process.exit(1);
}
