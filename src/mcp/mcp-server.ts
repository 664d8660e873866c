import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import type { Logger } from 'pino'
import { AppError } from '../protocol/codes.js'
import { TOOL_NAMES, TOOL_SPECS, type ToolName } from './schemas.js'

/** Runs one tool with arguments already checked against its input schema. */
export type ToolRunner = (name: ToolName, args: Record<string, unknown>) => Promise<CallToolResult> | CallToolResult

/** Largest number of array elements and object members a tool call's arguments may hold. */
const MAX_ARGUMENT_ELEMENTS = 10_000

/** A successful tool result: the structured output, and the same as JSON text for clients that only read text. */
export function toolResult(output: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output }
}

/** A tool error the caller can read: `CODE: message` for wire errors; internals stay in the log. */
export function toolError(err: unknown, log?: Logger): CallToolResult {
  const text = err instanceof AppError ? `${err.code}: ${err.message}` : 'SERVER_ERROR: Internal server error'
  if (!(err instanceof AppError)) log?.error({ err }, 'MCP tool failed')
  return { content: [{ type: 'text', text }], isError: true }
}

/** An McpServer listing every roomcast tool with its zod input and output schemas; `run` does the work. */
export function buildMcpServer(service: string, version: string, run: ToolRunner): McpServer {
  const mcp = new McpServer({ name: `roomcast-${service}`, version }, { maxToolInputElements: MAX_ARGUMENT_ELEMENTS })
  for (const name of TOOL_NAMES) {
    const spec = TOOL_SPECS[name]
    mcp.registerTool(
      name,
      {
        description: spec.description,
        inputSchema: spec.input,
        outputSchema: spec.output,
        // Hints for clients deciding whether to ask before calling: publishing is a write, never destructive.
        annotations: { readOnlyHint: spec.readOnly, destructiveHint: false, idempotentHint: spec.readOnly, openWorldHint: false },
      },
      (args: Record<string, unknown>) => run(name, args),
    )
  }
  return mcp
}
