namespace ChannelManager.Core.Protocols.Modbus;

/// <summary>A Modbus request. Addresses are PDU addresses (0-based, Application Protocol §4.4).</summary>
public abstract record ModbusCommand : ProtocolCommand
{
    public abstract ModbusFunction FunctionCode { get; }

    /// <summary>Throws <see cref="ArgumentException"/> when the request breaks the quantity limits of its function (a config bug).</summary>
    public abstract void Validate();

    private protected static void CheckQuantity(int count, int max, string name, int address)
    {
        if (count < 1 || count > max)
        {
            throw new ArgumentException($"{name}: quantity {count} outside 1..{max}.");
        }

        if (address + count > 0x10000)
        {
            throw new ArgumentException($"{name}: address {address} + quantity {count} runs past 65535.");
        }
    }
}

/// <summary>FC01: 1-2000 coils (§6.1).</summary>
public sealed record ReadCoils(ushort Address, ushort Count) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.ReadCoils;

    public override void Validate() => CheckQuantity(Count, 2000, nameof(ReadCoils), Address);
}

/// <summary>FC02: 1-2000 discrete inputs (§6.2).</summary>
public sealed record ReadDiscreteInputs(ushort Address, ushort Count) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.ReadDiscreteInputs;

    public override void Validate() => CheckQuantity(Count, 2000, nameof(ReadDiscreteInputs), Address);
}

/// <summary>FC03: 1-125 holding registers (§6.3).</summary>
public sealed record ReadHoldingRegisters(ushort Address, ushort Count) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.ReadHoldingRegisters;

    public override void Validate() => CheckQuantity(Count, 125, nameof(ReadHoldingRegisters), Address);
}

/// <summary>FC04: 1-125 input registers (§6.4).</summary>
public sealed record ReadInputRegisters(ushort Address, ushort Count) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.ReadInputRegisters;

    public override void Validate() => CheckQuantity(Count, 125, nameof(ReadInputRegisters), Address);
}

/// <summary>FC05 (§6.5).</summary>
public sealed record WriteSingleCoil(ushort Address, bool Value) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.WriteSingleCoil;

    public override void Validate()
    {
    }
}

/// <summary>FC06 (§6.6).</summary>
public sealed record WriteSingleRegister(ushort Address, ushort Value) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.WriteSingleRegister;

    public override void Validate()
    {
    }
}

/// <summary>FC15: 1-1968 coils (§6.11).</summary>
public sealed record WriteMultipleCoils(ushort Address, IReadOnlyList<bool> Values) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.WriteMultipleCoils;

    public override void Validate() => CheckQuantity(Values.Count, 1968, nameof(WriteMultipleCoils), Address);
}

/// <summary>FC16: 1-123 registers (§6.12).</summary>
public sealed record WriteMultipleRegisters(ushort Address, IReadOnlyList<ushort> Values) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.WriteMultipleRegisters;

    public override void Validate() => CheckQuantity(Values.Count, 123, nameof(WriteMultipleRegisters), Address);
}

/// <summary>FC23: write 1-121 registers, then read 1-125 (§6.17).</summary>
public sealed record ReadWriteMultipleRegisters(ushort ReadAddress, ushort ReadCount, ushort WriteAddress, IReadOnlyList<ushort> Values) : ModbusCommand
{
    public override ModbusFunction FunctionCode => ModbusFunction.ReadWriteMultipleRegisters;

    public override void Validate()
    {
        CheckQuantity(ReadCount, 125, nameof(ReadWriteMultipleRegisters), ReadAddress);
        CheckQuantity(Values.Count, 121, nameof(ReadWriteMultipleRegisters), WriteAddress);
    }
}

/// <summary>Modbus views of the protocol-agnostic results.</summary>
public static class ModbusResultExtensions
{
    /// <summary>The Modbus exception code of an ExceptionResponse, as its wire-value enum (null otherwise).</summary>
    public static ModbusExceptionCode? ModbusException(this CommandResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.ExceptionCode is { } code ? (ModbusExceptionCode)code : null;
    }
}
