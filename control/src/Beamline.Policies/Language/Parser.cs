using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>
/// A recursive-descent parser from tokens to a <see cref="PolicyModule"/>; the first error stops it
/// (<see cref="PolicySourceException"/> with its line and column). The grammar is in docs/policy-language.md.
/// </summary>
internal sealed partial class Parser
{
    private readonly List<Token> _tokens;
    private int _next;

    private Parser(List<Token> tokens) => _tokens = tokens;

    /// <summary>Parses one source file: any number of <c>def</c>s and exactly one <c>policy</c>.</summary>
    public static PolicyModule Parse(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        return parser.Module(source);
    }

    private Token Peek => _tokens[_next];

    private Token Advance() => _tokens[_next++];

    private PolicyModule Module(string source)
    {
        var functions = ImmutableArray.CreateBuilder<FunctionDecl>();
        PolicyDecl? policy = null;
        while (Peek.Kind != TokenKind.EndOfFile)
        {
            if (Peek.Kind == TokenKind.Newline)
            {
                Advance();
            }
            else if (Peek.IsKeyword("def"))
            {
                functions.Add(Function());
            }
            else if (Peek.IsKeyword("policy"))
            {
                if (policy is not null)
                {
                    throw Error(Peek, "a source holds one policy; put the other in its own source and `use` it");
                }
                policy = PolicyDeclaration();
            }
            else
            {
                throw Error(Peek, $"expected 'policy' or 'def', found {Peek.Describe()}");
            }
        }
        if (policy is null)
        {
            throw Error(Peek, "no 'policy name(...):' declaration found");
        }
        return new PolicyModule(functions.ToImmutable(), policy, source);
    }

    private PolicyDecl PolicyDeclaration()
    {
        var start = Expect(TokenKind.Keyword, "policy");
        var name = ExpectName("a policy name");
        var parameters = Parameters(allowDefaults: true);
        Expect(TokenKind.Symbol, ":");
        return new PolicyDecl(name.Text, parameters, Block(), start.Line, start.Column);
    }

    private FunctionDecl Function()
    {
        var start = Expect(TokenKind.Keyword, "def");
        var name = ExpectName("a function name");
        var parameters = Parameters(allowDefaults: false);
        Expect(TokenKind.Symbol, ":");
        Expr body;
        if (Peek.Kind == TokenKind.Newline)
        {
            Advance();
            Expect(TokenKind.Indent, "");
            body = Expression();
            Expect(TokenKind.Newline, "\\n");
            Expect(TokenKind.Dedent, "");
        }
        else
        {
            body = Expression();
            Expect(TokenKind.Newline, "\\n");
        }
        return new FunctionDecl(name.Text, parameters, body, start.Line, start.Column);
    }

    private ImmutableArray<Parameter> Parameters(bool allowDefaults)
    {
        var parameters = ImmutableArray.CreateBuilder<Parameter>();
        Expect(TokenKind.Symbol, "(");
        while (!Peek.IsSymbol(")"))
        {
            var name = ExpectName("a parameter name");
            Expr? value = null;
            if (Peek.IsSymbol("="))
            {
                if (!allowDefaults)
                {
                    throw Error(Peek, "function parameters take no defaults");
                }
                Advance();
                value = Expression();
            }
            parameters.Add(new Parameter(name.Text, value, name.Line, name.Column));
            if (!Peek.IsSymbol(")"))
            {
                Expect(TokenKind.Symbol, ",");
            }
        }
        Advance();
        return parameters.ToImmutable();
    }

    // After a ':' — an indented block, or one statement on the same line.
    private ImmutableArray<Stmt> Block()
    {
        if (Peek.Kind != TokenKind.Newline)
        {
            return [Statement()];
        }
        Advance();
        if (Peek.Kind != TokenKind.Indent)
        {
            throw Error(Peek, "expected an indented block");
        }
        Advance();
        var body = ImmutableArray.CreateBuilder<Stmt>();
        while (Peek.Kind != TokenKind.Dedent && Peek.Kind != TokenKind.EndOfFile)
        {
            body.Add(Statement());
        }
        Expect(TokenKind.Dedent, "");
        return body.ToImmutable();
    }

    private Stmt Statement()
    {
        var start = Peek;
        if (start.Kind != TokenKind.Keyword)
        {
            throw Error(start, $"expected a statement (let, if, match, route, use, fallback, with, pass), found {start.Describe()}");
        }
        switch (start.Text)
        {
            case "let":
                Advance();
                var name = ExpectName("a variable name");
                Expect(TokenKind.Symbol, "=");
                return EndLine(new LetStmt(name.Text, Expression(), start.Line, start.Column));
            case "if":
                return If();
            case "match":
                return Match();
            case "route":
                Advance();
                return EndLine(new RouteStmt(Expression(), start.Line, start.Column));
            case "use":
                Advance();
                var policy = ExpectName("a policy name");
                var (args, named) = Peek.IsSymbol("(") ? Arguments() : ([], []);
                return EndLine(new UseStmt(policy.Text, args, named, start.Line, start.Column));
            case "fallback":
                Advance();
                return EndLine(new FallbackStmt(Expression(), start.Line, start.Column));
            case "with":
                Advance();
                return EndLine(new WithStmt(Expression(), start.Line, start.Column));
            case "pass":
                Advance();
                return EndLine(new PassStmt(start.Line, start.Column));
            default:
                throw Error(start, $"'{start.Text}' cannot start a statement");
        }
    }

    private T EndLine<T>(T statement)
        where T : Stmt
    {
        if (Peek.Kind != TokenKind.Newline)
        {
            throw Error(Peek, $"expected the end of the line, found {Peek.Describe()}");
        }
        Advance();
        return statement;
    }

    private IfStmt If()
    {
        var start = Advance();
        var branches = ImmutableArray.CreateBuilder<IfBranch>();
        var condition = Expression();
        Expect(TokenKind.Symbol, ":");
        branches.Add(new IfBranch(condition, Block()));
        ImmutableArray<Stmt>? otherwise = null;
        while (Peek.IsKeyword("elif"))
        {
            Advance();
            condition = Expression();
            Expect(TokenKind.Symbol, ":");
            branches.Add(new IfBranch(condition, Block()));
        }
        if (Peek.IsKeyword("else"))
        {
            Advance();
            Expect(TokenKind.Symbol, ":");
            otherwise = Block();
        }
        return new IfStmt(branches.ToImmutable(), otherwise, start.Line, start.Column);
    }

    private MatchStmt Match()
    {
        var start = Advance();
        var subject = Expression();
        Expect(TokenKind.Symbol, ":");
        Expect(TokenKind.Newline, "\\n");
        if (Peek.Kind != TokenKind.Indent)
        {
            throw Error(Peek, "expected indented 'case' arms");
        }
        Advance();
        var cases = ImmutableArray.CreateBuilder<MatchCase>();
        while (Peek.Kind != TokenKind.Dedent && Peek.Kind != TokenKind.EndOfFile)
        {
            var arm = Expect(TokenKind.Keyword, "case");
            var patterns = ImmutableArray.CreateBuilder<Expr?>();
            do
            {
                if (patterns.Count > 0)
                {
                    Advance();
                }
                if (Peek.Is(TokenKind.Name, "_"))
                {
                    Advance();
                    patterns.Add(null);
                }
                else
                {
                    patterns.Add(Additive());
                }
            }
            while (Peek.IsSymbol(","));
            Expect(TokenKind.Symbol, ":");
            cases.Add(new MatchCase(patterns.ToImmutable(), Block(), arm.Line, arm.Column));
        }
        Expect(TokenKind.Dedent, "");
        if (cases.Count == 0)
        {
            throw Error(start, "a match needs at least one case");
        }
        return new MatchStmt(subject, cases.ToImmutable(), start.Line, start.Column);
    }

    private (ImmutableArray<Expr> Args, ImmutableArray<NamedArg> Named) Arguments()
    {
        Expect(TokenKind.Symbol, "(");
        var args = ImmutableArray.CreateBuilder<Expr>();
        var named = ImmutableArray.CreateBuilder<NamedArg>();
        while (!Peek.IsSymbol(")"))
        {
            if (Peek.Kind == TokenKind.Name && _tokens[_next + 1].IsSymbol("="))
            {
                var name = Advance();
                Advance();
                named.Add(new NamedArg(name.Text, Expression()));
            }
            else
            {
                if (named.Count > 0)
                {
                    throw Error(Peek, "a positional argument cannot follow a named one");
                }
                args.Add(Expression());
            }
            if (!Peek.IsSymbol(")"))
            {
                Expect(TokenKind.Symbol, ",");
            }
        }
        Advance();
        return (args.ToImmutable(), named.ToImmutable());
    }

    private Token ExpectName(string what)
    {
        var token = Advance();
        if (token.Kind != TokenKind.Name)
        {
            throw Error(token, $"expected {what}, found {token.Describe()}");
        }
        return token;
    }

    private Token Expect(TokenKind kind, string text)
    {
        var token = Peek;
        if (token.Kind != kind || (kind is TokenKind.Symbol or TokenKind.Keyword && !string.Equals(token.Text, text, StringComparison.Ordinal)))
        {
            var wanted = kind switch
            {
                TokenKind.Newline => "the end of the line",
                TokenKind.Indent => "an indented block",
                TokenKind.Dedent => "the end of the block",
                _ => $"'{text}'",
            };
            throw Error(token, $"expected {wanted}, found {token.Describe()}");
        }
        return Advance();
    }

    private static PolicySourceException Error(Token at, string message) => new(at.Line, at.Column, message);
}
