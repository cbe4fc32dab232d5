using System.Collections.Immutable;

namespace Beamline.Policies.Language;

/// <summary>Expressions, by precedence: conditional, or, and, not, comparison, sum, product, unary, postfix, primary.</summary>
internal sealed partial class Parser
{
    public Expr Expression()
    {
        var value = Or();
        if (!Peek.IsKeyword("if"))
        {
            return value;
        }
        var at = Advance();
        var condition = Or();
        Expect(TokenKind.Keyword, "else");
        return new ConditionalExpr(condition, value, Expression(), at.Line, at.Column);
    }

    private Expr Or()
    {
        var left = And();
        while (Peek.IsKeyword("or"))
        {
            var op = Advance();
            left = new BinaryExpr("or", left, And(), op.Line, op.Column);
        }
        return left;
    }

    private Expr And()
    {
        var left = Not();
        while (Peek.IsKeyword("and"))
        {
            var op = Advance();
            left = new BinaryExpr("and", left, Not(), op.Line, op.Column);
        }
        return left;
    }

    private Expr Not()
    {
        if (Peek.IsKeyword("not"))
        {
            var op = Advance();
            return new UnaryExpr("not", Not(), op.Line, op.Column);
        }
        return Comparison();
    }

    private Expr Comparison()
    {
        var left = Additive();
        var op = Peek;
        string? name = null;
        if (op.Kind == TokenKind.Symbol && op.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
        {
            name = op.Text;
            Advance();
        }
        else if (op.IsKeyword("in"))
        {
            name = "in";
            Advance();
        }
        else if (op.IsKeyword("not") && _tokens[_next + 1].IsKeyword("in"))
        {
            name = "not in";
            _next += 2;
        }
        if (name is null)
        {
            return left;
        }
        var right = Additive();
        if (Peek.Kind == TokenKind.Symbol && Peek.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
        {
            throw Error(Peek, "comparisons do not chain; join them with 'and'");
        }
        return new BinaryExpr(name, left, right, op.Line, op.Column);
    }

    private Expr Additive()
    {
        var left = Multiplicative();
        while (Peek.IsSymbol("+") || Peek.IsSymbol("-"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Text, left, Multiplicative(), op.Line, op.Column);
        }
        return left;
    }

    private Expr Multiplicative()
    {
        var left = Unary();
        while (Peek.IsSymbol("*") || Peek.IsSymbol("/") || Peek.IsSymbol("%"))
        {
            var op = Advance();
            left = new BinaryExpr(op.Text, left, Unary(), op.Line, op.Column);
        }
        return left;
    }

    private Expr Unary()
    {
        if (Peek.IsSymbol("-"))
        {
            var op = Advance();
            return new UnaryExpr("-", Unary(), op.Line, op.Column);
        }
        return Postfix();
    }

    private Expr Postfix()
    {
        var value = Primary();
        while (true)
        {
            if (Peek.IsSymbol("."))
            {
                Advance();
                var member = ExpectName("a member name");
                value = new MemberExpr(value, member.Text, member.Line, member.Column);
            }
            else if (Peek.IsSymbol("["))
            {
                var open = Advance();
                var index = Expression();
                Expect(TokenKind.Symbol, "]");
                value = new IndexExpr(value, index, open.Line, open.Column);
            }
            else
            {
                return value;
            }
        }
    }

    private Expr Primary()
    {
        var token = Advance();
        switch (token.Kind)
        {
            case TokenKind.Number:
            case TokenKind.Duration:
                return new LiteralExpr(Value.Of(token.Number), token.Line, token.Column);
            case TokenKind.String:
                return new LiteralExpr(Value.Of(token.Text), token.Line, token.Column);
            case TokenKind.Keyword when token.Text is "true" or "false":
                return new LiteralExpr(Value.Of(token.Text == "true"), token.Line, token.Column);
            case TokenKind.Keyword when token.Text == "none":
                return new LiteralExpr(Value.None, token.Line, token.Column);
            case TokenKind.Name:
                if (Peek.IsSymbol("("))
                {
                    var (args, named) = Arguments();
                    return new CallExpr(token.Text, args, named, token.Line, token.Column);
                }
                return new NameExpr(token.Text, token.Line, token.Column);
            case TokenKind.Symbol when token.Text == "(":
                var inner = Expression();
                Expect(TokenKind.Symbol, ")");
                return inner;
            case TokenKind.Symbol when token.Text == "[":
                var items = ImmutableArray.CreateBuilder<Expr>();
                while (!Peek.IsSymbol("]"))
                {
                    items.Add(Expression());
                    if (!Peek.IsSymbol("]"))
                    {
                        Expect(TokenKind.Symbol, ",");
                    }
                }
                Advance();
                return new ListExpr(items.ToImmutable(), token.Line, token.Column);
            case TokenKind.Symbol when token.Text == "{":
                var keys = ImmutableArray.CreateBuilder<Expr>();
                var values = ImmutableArray.CreateBuilder<Expr>();
                while (!Peek.IsSymbol("}"))
                {
                    keys.Add(Expression());
                    Expect(TokenKind.Symbol, ":");
                    values.Add(Expression());
                    if (!Peek.IsSymbol("}"))
                    {
                        Expect(TokenKind.Symbol, ",");
                    }
                }
                Advance();
                return new MapExpr(keys.ToImmutable(), values.ToImmutable(), token.Line, token.Column);
            default:
                throw Error(token, $"expected a value, found {token.Describe()}");
        }
    }
}
